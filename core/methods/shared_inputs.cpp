#include "core/methods/shared_inputs.h"

namespace qs::methods {

using model::LinearRole;

LinearRole input_owner(LinearRole r, const std::vector<LinearRole>& roles) {
  auto first_of = [&](std::initializer_list<LinearRole> set) {
    for (auto c : roles)
      for (auto s : set)
        if (c == s) return c;
    return r;
  };
  if (r == LinearRole::Q || r == LinearRole::K || r == LinearRole::V)
    return first_of({LinearRole::Q, LinearRole::K, LinearRole::V});
  if (r == LinearRole::Gate || r == LinearRole::Up) return first_of({LinearRole::Gate, LinearRole::Up});
  return r;
}

}  // namespace qs::methods
