#include "core/model/packed_linear_op.h"

#include <stdexcept>

#include "core/error.h"
#include "kernels/packed_matmul.h"

namespace qs::model {

kernels::PackedWeight to_packed_weight(const quant::QuantizedLinear& q, const std::string& name) {
  const int64_t group = q.spec.effective_group(q.in_features);
  if (auto why = kernels::unsupported_reason(q.spec.bits, q.in_features, group); !why.empty())
    throw ArgumentError(name + ": " + why);
  try {
    return kernels::pack_weight(q.unpacked_codes(), q.scales, q.zeros, q.spec.bits, group, q.g_idx);
  } catch (const std::invalid_argument& e) {
    throw ArgumentError(name + ": " + e.what());
  }
}

PackedLinearOp::PackedLinearOp(std::shared_ptr<const quant::QuantizedLinear> q, const std::string& name,
                               torch::Device device, torch::ScalarType dtype)
    : q_(std::move(q)), dtype_(dtype) {
  QS_ASSERT(q_ != nullptr, "null QuantizedLinear");
  w_ = to_packed_weight(*q_, name).to(device);
  side_ = quant::LinearSideParts(*q_, device, dtype);
}

torch::Tensor PackedLinearOp::forward(const torch::Tensor& x) const {
  return forward_transformed(side_.input(x), x);
}

torch::Tensor PackedLinearOp::forward_transformed(const torch::Tensor& tx, const torch::Tensor& x) const {
  return side_.add_branch(kernels::packed_matmul(tx, w_, side_.bias), x);
}

torch::Tensor PackedLinearOp::dense_weight() const {
  return side_.dense(kernels::dequantize_reference(w_).to(w_.qweight.device(), dtype_));
}

PackedSwap use_packed_kernels(model::Decoder& decoder) {
  PackedSwap swap;
  for (int64_t layer = 0; layer < decoder.num_layers(); ++layer)
    for (auto role : decoder.linear_roles(layer)) {
      auto op = std::dynamic_pointer_cast<const QuantizedLinearOp>(decoder.linear(layer, role));
      if (!op) continue;
      const auto name = model::linear_name(layer, role);
      try {
        decoder.set_linear(layer, role,
                           std::make_shared<PackedLinearOp>(op->record(), name, decoder.device(), decoder.dtype()));
        ++swap.packed;
      } catch (const ArgumentError& e) {
        swap.skipped.push_back(e.what());
      }
    }
  return swap;
}

}  // namespace qs::model
