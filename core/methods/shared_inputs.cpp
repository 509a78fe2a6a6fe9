#include "core/methods/shared_inputs.h"

namespace qs::methods {

using model::LinearRole;

namespace {

// Linears reading one tensor share a key: q, k and v; each MLP's gate and up.
int64_t input_key(LinearRole r) {
  if (r.kind <= model::LinearKind::V) return -3;
  if (r.kind == model::LinearKind::Gate || r.kind == model::LinearKind::Up) return r.expert;
  return -4;
}

}  // namespace

LinearRole input_owner(LinearRole r, const std::vector<LinearRole>& roles) {
  if (input_key(r) == -4) return r;
  for (auto c : roles)
    if (input_key(c) == input_key(r)) return c;
  return r;
}

}  // namespace qs::methods
