#pragma once
// Turns a loaded checkpoint into the plain ModelOutline the widgets draw.

#include "core/io/provenance.h"
#include "core/model/model_weights.h"
#include "widgets/model_outline.h"

namespace qs::app {

widgets::ModelOutline build_outline(const model::ModelWeights& weights);

// Adds what a quantized checkpoint records to its outline: each quantized
// linear's method and measured error, and the FP model it came from.
void apply_provenance(const io::Provenance& provenance, const model::ModelWeights& weights,
                      widgets::ModelOutline& outline);

}  // namespace qs::app
