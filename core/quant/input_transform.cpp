#include "core/quant/input_transform.h"

namespace qs::quant {

torch::Tensor apply_input_transform(const torch::Tensor& x, const torch::Tensor& t) {
  if (!t.defined()) return x;
  return t.dim() == 1 ? x * t : torch::linear(x, t);
}

torch::Tensor fold_input_transform(const torch::Tensor& w, const torch::Tensor& t) {
  if (!t.defined()) return w;
  return t.dim() == 1 ? w * t.unsqueeze(0) : torch::matmul(w, t);
}

}  // namespace qs::quant
