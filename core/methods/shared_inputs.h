#pragma once
// q, k and v read the same tensor, and so do gate and up (each expert's
// their own): statistics of a
// linear's inputs (a Hessian, channel means) are gathered once per tensor.

#include <vector>

#include "core/model/decoder.h"

namespace qs::methods {

// The first role in `roles` that reads the same input as `r` (r itself when
// none comes before it).
model::LinearRole input_owner(model::LinearRole r, const std::vector<model::LinearRole>& roles);

}  // namespace qs::methods
