#include "core/model/linear_shapes.h"

#include <algorithm>

namespace qs::model {

std::vector<LinearShape> distinct_linear_shapes(const ModelConfig& c) {
  const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  const LinearShape roles[] = {{c.hidden_size, q},
                               {c.hidden_size, kv},
                               {c.hidden_size, kv},
                               {q, c.hidden_size},
                               {c.hidden_size, c.intermediate_size},
                               {c.hidden_size, c.intermediate_size},
                               {c.intermediate_size, c.hidden_size}};
  std::vector<LinearShape> shapes;
  for (const auto& s : roles)
    if (std::find(shapes.begin(), shapes.end(), s) == shapes.end()) shapes.push_back(s);
  return shapes;
}

}  // namespace qs::model
