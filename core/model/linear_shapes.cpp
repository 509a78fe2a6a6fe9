#include "core/model/linear_shapes.h"

#include <algorithm>

#include "core/model/linear_role.h"

namespace qs::model {

std::vector<LinearShape> distinct_linear_shapes(const ModelConfig& c) {
  // A dense block's linears, and an MoE block's (its experts' are their own shapes).
  std::vector<int64_t> layers = {0};
  for (int64_t l = 0; l < c.num_layers; ++l)
    if (c.moe(l) != c.moe(0)) {
      layers.push_back(l);
      break;
    }
  std::vector<LinearShape> shapes;
  for (auto l : layers)
    for (auto role : block_linear_roles(c, l)) {
      const auto [out, in] = linear_shape(c, role);
      const LinearShape s{in, out};
      if (std::find(shapes.begin(), shapes.end(), s) == shapes.end()) shapes.push_back(s);
    }
  return shapes;
}

}  // namespace qs::model
