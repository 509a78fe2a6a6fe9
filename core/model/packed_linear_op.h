#pragma once
// The quantized linear on the packed kernels: the record is converted once to
// the kernels' PackedWeight layout and every forward streams the packed codes
// (kernels/packed_matmul.h) instead of a dequantized dense copy. Bias,
// transform and low-rank branch come from the same LinearSideParts as
// QuantizedLinearOp's, so the two ops compute the same function.

#include <memory>
#include <string>
#include <vector>

#include "core/model/decoder.h"
#include "core/model/quantized_linear_op.h"
#include "kernels/packed_weight.h"

namespace qs::model {

// The record in the kernels' layout (CPU tensors). Throws qs::ArgumentError
// naming the layer when its bits or shape cannot use the layout.
kernels::PackedWeight to_packed_weight(const quant::QuantizedLinear& q, const std::string& name);

class PackedLinearOp final : public model::LinearOp {
 public:
  // Throws as to_packed_weight does.
  PackedLinearOp(std::shared_ptr<const quant::QuantizedLinear> q, const std::string& name, torch::Device device,
                 torch::ScalarType dtype);

  torch::Tensor forward(const torch::Tensor& x) const override;
  int64_t in_features() const override { return q_->in_features; }
  int64_t out_features() const override { return q_->out_features; }
  torch::Tensor dense_weight() const override;
  torch::Tensor bias() const override { return side_.bias; }
  torch::Tensor input_transform() const override { return side_.transform; }
  torch::Tensor transform_input(const torch::Tensor& x) const override { return side_.input(x); }
  torch::Tensor forward_transformed(const torch::Tensor& tx, const torch::Tensor& x) const override;

  const kernels::PackedWeight& packed() const { return w_; }

 private:
  std::shared_ptr<const quant::QuantizedLinear> q_;
  kernels::PackedWeight w_;
  torch::ScalarType dtype_;
  quant::LinearSideParts side_;
};

struct PackedSwap {
  int64_t packed = 0;                // linears now on the packed kernels
  std::vector<std::string> skipped;  // "model.layers.0.self_attn.q_proj: why"
};

// Puts every quantized linear of `decoder` on the packed kernels; layers the
// layout cannot hold keep their dequantized op and are listed with the reason.
PackedSwap use_packed_kernels(model::Decoder& decoder);

}  // namespace qs::model
