#include "core/model/quantized_linear_op.h"

#include "core/error.h"
#include "core/io/mapped_tensor.h"
#include "core/quant/uniform_quantizer.h"

namespace qs::model {

QuantizedLinearOp::QuantizedLinearOp(std::shared_ptr<const quant::QuantizedLinear> q, torch::Device device,
                                     torch::ScalarType dtype)
    : q_(std::move(q)), device_(device), dtype_(dtype) {
  QS_ASSERT(q_ != nullptr, "null QuantizedLinear");
  side_ = quant::LinearSideParts(*q_, device, dtype);
}

torch::Tensor QuantizedLinearOp::weight() const {
  std::lock_guard lock(mutex_);
  if (!w_.defined()) {
    auto g_idx = q_->g_idx.defined() ? q_->g_idx.to(device_) : q_->g_idx;
    w_ = quant::dequantize(q_->unpacked_codes().to(device_), q_->scales.to(device_), q_->zeros.to(device_),
                           q_->spec.group_size, g_idx)
             .to(dtype_)
             .contiguous();
    // Codes mapped from a checkpoint or a run's spill file stay there.
    io::release_mapped_pages(q_->codes.defined() ? q_->codes : q_->packed_codes);
  }
  return w_;
}

void QuantizedLinearOp::release() const {
  std::lock_guard lock(mutex_);
  w_ = torch::Tensor();
}

torch::Tensor QuantizedLinearOp::forward(const torch::Tensor& x) const {
  return forward_transformed(side_.input(x), x);
}

torch::Tensor QuantizedLinearOp::forward_transformed(const torch::Tensor& tx, const torch::Tensor& x) const {
  return side_.add_branch(torch::linear(tx, weight(), side_.bias), x);
}

torch::Tensor QuantizedLinearOp::dense_weight() const { return side_.dense(weight()); }

}  // namespace qs::model
