#pragma once
// Turns a loaded checkpoint into the plain ModelOutline the widgets draw.

#include "core/model/model_weights.h"
#include "widgets/model_outline.h"

namespace qs::app {

widgets::ModelOutline build_outline(const model::ModelWeights& weights);

}  // namespace qs::app
