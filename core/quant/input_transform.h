#pragma once
// A linear's input transform T, in the one convention every op and method
// shares: the layer computes W·(T·x). T is a matrix [in, in] (what a
// QuantizedLinear stores) or a vector [in] standing for diag(t) (AffineQuant
// trains either). Applied to the activations when several linears read one
// input through it (one product per norm), folded into the weight otherwise.

#include <torch/torch.h>

namespace qs::quant {

// T·x for every row of x [..., in]; x itself when t is undefined. t in x's dtype.
torch::Tensor apply_input_transform(const torch::Tensor& x, const torch::Tensor& t);
// W·T for w [out, in]; w itself when t is undefined.
torch::Tensor fold_input_transform(const torch::Tensor& w, const torch::Tensor& t);

}  // namespace qs::quant
