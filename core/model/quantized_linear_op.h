#pragma once
// A quant::QuantizedLinear placed in the decoder, behind the LinearOp every
// linear sits behind.

#include <torch/torch.h>

#include <memory>
#include <mutex>

#include "core/model/linear_op.h"
#include "core/quant/quantized_linear.h"

namespace qs::model {

// A QuantizedLinear placed in the decoder. The dequantized weight is built on
// `device` in `dtype` when first used and kept until release(), so every
// forward computes the same numbers as a reloaded checkpoint does, and a
// block the decoder does not keep resident holds only its codes.
class QuantizedLinearOp final : public LinearOp {
 public:
  QuantizedLinearOp(std::shared_ptr<const quant::QuantizedLinear> q, torch::Device device, torch::ScalarType dtype);

  torch::Tensor forward(const torch::Tensor& x) const override;
  int64_t in_features() const override { return q_->in_features; }
  int64_t out_features() const override { return q_->out_features; }
  torch::Tensor dense_weight() const override;
  torch::Tensor bias() const override { return side_.bias; }
  torch::Tensor input_transform() const override { return side_.transform; }
  torch::Tensor transform_input(const torch::Tensor& x) const override { return side_.input(x); }
  torch::Tensor forward_transformed(const torch::Tensor& tx, const torch::Tensor& x) const override;
  void release() const override;

  const std::shared_ptr<const quant::QuantizedLinear>& record() const { return q_; }

 private:
  torch::Tensor weight() const;

  std::shared_ptr<const quant::QuantizedLinear> q_;
  torch::Device device_;
  torch::ScalarType dtype_;
  quant::LinearSideParts side_;
  mutable std::mutex mutex_;
  mutable torch::Tensor w_;
};

}  // namespace qs::model
