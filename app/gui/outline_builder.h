#pragma once
// Turns a loaded checkpoint into the plain ModelOutline the widgets draw.

#include "core/checkpoint/provenance.h"
#include "core/model/model_weights.h"
#include "widgets/model_outline.h"

namespace qs::app {

widgets::ModelOutline build_outline(const model::ModelWeights& weights);

// Adds what a quantized checkpoint records to its outline: each quantized
// linear's method and measured error, the recorded run, and the FP model it
// came from (as `fp_model` when it is there unchanged, else as a warning).
void apply_provenance(const checkpoint::Provenance& provenance, const model::ModelWeights& weights,
                      widgets::ModelOutline& outline);

}  // namespace qs::app
