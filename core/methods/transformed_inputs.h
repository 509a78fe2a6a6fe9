#pragma once
// The inputs of trained linears after a transform in front of them (T·x),
// kept for one training step so that the linears sharing an input and a
// transform (q, k and v behind AffineQuant's input-norm matrix, gate and up
// behind its post-attention one) pay for the product once, not once each.
// Applying T to the activations instead of folding it into every weight
// (W_hat·T) also makes the product scale with the tokens, not the weight rows.

#include <torch/torch.h>

#include <vector>

namespace qs::methods {

class TransformedInputs {
 public:
  // x·tᵀ for a matrix t [in, in], x ⊙ t for a diagonal t [in]; the tensor an
  // earlier call returned when x and t are the same tensors as then (since
  // the last clear()). Differentiable in x and t.
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& t);
  // Forgets the kept products and the autograd graphs they hold.
  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    torch::Tensor x, t, out;
  };
  std::vector<Entry> entries_;
};

}  // namespace qs::methods
