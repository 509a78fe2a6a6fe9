#include "core/methods/transformed_inputs.h"

namespace qs::methods {

torch::Tensor TransformedInputs::apply(const torch::Tensor& x, const torch::Tensor& t) {
  for (const auto& e : entries_)
    if (e.x.is_same(x) && e.t.is_same(t)) return e.out;
  const auto tx = t.to(x.scalar_type());
  auto out = tx.dim() == 1 ? x * tx : torch::linear(x, tx);
  entries_.push_back({x, t, out});
  return out;
}

}  // namespace qs::methods
