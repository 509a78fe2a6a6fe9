#pragma once
// One linear layer of the decoder. The dense form holds FP weights; the
// quantization pipeline swaps in other implementations (fake-quantized,
// packed-kernel) at the same site without the decoder knowing.

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <mutex>

namespace qs::model {

class LinearOp {
 public:
  virtual ~LinearOp() = default;
  // x: [..., in_features] → [..., out_features], in x's dtype and device.
  virtual torch::Tensor forward(const torch::Tensor& x) const = 0;
  virtual int64_t in_features() const = 0;
  virtual int64_t out_features() const = 0;
  // The weight as a dense [out, in] tensor (dequantized where needed), for analysis.
  virtual torch::Tensor dense_weight() const = 0;
  virtual torch::Tensor bias() const = 0;  // undefined when there is none

  // A transform T the op applies to its input before anything else, as the
  // tensor that identifies it; undefined when there is none. Linears that read
  // one input through equal transforms (AffineQuant's matrix after a norm, in
  // front of q, k and v) let the decoder compute T·x once for all of them.
  virtual torch::Tensor input_transform() const { return {}; }
  // T·x; x itself when there is no transform.
  virtual torch::Tensor transform_input(const torch::Tensor& x) const { return x; }
  // forward(x), given tx = transform_input(x) computed once for several ops.
  virtual torch::Tensor forward_transformed(const torch::Tensor& tx, const torch::Tensor& x) const {
    (void)tx;
    return forward(x);
  }

  // Frees what the op built for computing (a weight in the compute dtype on
  // the compute device) and keeps what it is built from; the next forward
  // builds it again, to the same values. The decoder calls it on the blocks it
  // no longer keeps resident.
  virtual void release() const {}
};

// An FP linear. Built from the checkpoint's tensor as stored (possibly bytes of
// a mapped file in bf16) or from the means to decode it (a GGUF block-quantized
// weight), it converts or decodes it to the compute device and dtype when
// first used and keeps that until release(); built from a tensor already in
// place, it is that tensor.
class DenseLinear final : public LinearOp {
 public:
  DenseLinear(torch::Tensor weight, torch::Tensor bias)
      : stored_(weight), b_(std::move(bias)), device_(weight.device()), dtype_(weight.scalar_type()),
        w_(std::move(weight)) {}
  DenseLinear(torch::Tensor stored, torch::Tensor bias, torch::Device device, torch::ScalarType dtype)
      : stored_(std::move(stored)), b_(std::move(bias)), device_(device), dtype_(dtype) {}
  // `decode` returns the [out, in] weight (a new tensor each call).
  DenseLinear(int64_t out, int64_t in, std::function<torch::Tensor()> decode, torch::Tensor bias,
              torch::Device device, torch::ScalarType dtype)
      : decode_(std::move(decode)), b_(std::move(bias)), out_(out), in_(in), device_(device), dtype_(dtype) {}

  torch::Tensor forward(const torch::Tensor& x) const override { return torch::linear(x, weight(), b_); }
  int64_t in_features() const override { return stored_.defined() ? stored_.size(1) : in_; }
  int64_t out_features() const override { return stored_.defined() ? stored_.size(0) : out_; }
  torch::Tensor dense_weight() const override { return weight(); }
  torch::Tensor bias() const override { return b_; }
  void release() const override;

 private:
  torch::Tensor weight() const;

  torch::Tensor stored_;
  std::function<torch::Tensor()> decode_;  // when there is no stored_
  torch::Tensor b_;
  int64_t out_ = 0, in_ = 0;
  torch::Device device_;
  torch::ScalarType dtype_;
  mutable std::mutex mutex_;
  mutable torch::Tensor w_;
};

}  // namespace qs::model
