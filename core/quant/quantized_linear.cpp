#include "core/quant/quantized_linear.h"

#include "core/error.h"
#include "core/io/mapped_tensor.h"
#include "core/quant/input_transform.h"
#include "core/quant/packing.h"
#include "core/quant/uniform_quantizer.h"

namespace qs::quant {
namespace {

std::string shape_of(c10::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void expect(const torch::Tensor& t, std::vector<int64_t> shape, const std::string& source, const std::string& field) {
  if (t.sizes() != c10::IntArrayRef(shape))
    throw FormatError(source, field, "shape " + shape_of(t.sizes()) + ", expected " + shape_of(shape));
}

}  // namespace

QuantizedLinear QuantizedLinear::to(torch::Device device) const {
  QuantizedLinear q = *this;
  for (auto* t : {&q.codes, &q.packed_codes, &q.scales, &q.zeros, &q.g_idx, &q.bias, &q.input_scale, &q.transform, &q.lora_a, &q.lora_b})
    if (t->defined()) *t = t->to(device);
  return q;
}

QuantizedLinear QuantizedLinear::round_to_nearest(const torch::Tensor& weight, const QuantSpec& spec) {
  QuantizedLinear q;
  q.spec = spec;
  q.spec.group_size = spec.effective_group(weight.size(1));
  q.out_features = weight.size(0);
  q.in_features = weight.size(1);
  auto p = compute_group_params(weight, spec);
  q.codes = quantize_codes(weight, p, q.spec.group_size, spec.bits);
  q.scales = p.scales;
  q.zeros = p.zeros;
  return q;
}

torch::Tensor QuantizedLinear::unpacked_codes() const {
  if (codes.defined()) return codes;
  QS_ASSERT(packed_codes.defined(), "a QuantizedLinear without codes");
  return unpack_codes(packed_codes, spec.bits, in_features).to(packed_codes.device());
}

torch::Tensor QuantizedLinear::packed() const {
  return packed_codes.defined() ? packed_codes.to(torch::kCPU).contiguous() : pack_codes(codes, spec.bits);
}

QuantizedLinear QuantizedLinear::with_packed_codes() const {
  QuantizedLinear q = *this;
  if (!q.packed_codes.defined()) q.packed_codes = pack_codes(codes, spec.bits);
  q.codes = torch::Tensor();
  return q;
}

torch::Tensor QuantizedLinear::dequantized_weight() const {
  return dequantize(unpacked_codes(), scales, zeros, spec.group_size, g_idx);
}

torch::Tensor QuantizedLinear::effective_weight() const {
  auto w = dequantized_weight();
  if (transform.defined()) w = fold_input_transform(w, transform.to(w.device(), torch::kFloat32));
  if (lora_a.defined())
    w = w + torch::matmul(lora_b.to(w.device(), torch::kFloat32), lora_a.to(w.device(), torch::kFloat32));
  return w;
}

void QuantizedLinear::validate(const std::string& source, const std::string& name) const {
  spec.validate(source + ": " + name);
  if (spec.group_size <= 0) throw FormatError(source, name + " group_size", "must be positive");
  if (codes.defined() == packed_codes.defined())
    throw FormatError(source, name + " codes", codes.defined() ? "held both unpacked and packed" : "missing");
  if (codes.defined() && codes.scalar_type() != torch::kUInt8)
    throw FormatError(source, name + " codes", "not uint8");
  if (packed_codes.defined() && packed_codes.scalar_type() != torch::kInt32)
    throw FormatError(source, name + " codes", "packed, but not int32");
  if (codes.defined()) expect(codes, {out_features, in_features}, source, name + " codes");
  else expect(packed_codes, {out_features, packed_words(in_features, spec.bits)}, source, name + " codes (packed)");
  const int64_t groups = spec.num_groups(in_features);
  if (!scales.defined() || !zeros.defined()) throw FormatError(source, name + " scales/zeros", "missing");
  expect(scales, {out_features, groups}, source, name + " scales");
  expect(zeros, {out_features, groups}, source, name + " zeros");
  // Packed codes are in range by construction: each is `bits` bits of the stream.
  if (codes.defined() && codes.numel() && codes.max().item<int64_t>() > spec.max_code())
    throw FormatError(source, name + " codes", "a code exceeds " + std::to_string(spec.max_code()));
  if (zeros.numel() && (zeros.min().item<int64_t>() < 0 || zeros.max().item<int64_t>() > spec.max_code()))
    throw FormatError(source, name + " zeros", "a zero point is outside 0.." + std::to_string(spec.max_code()));
  if (!torch::isfinite(scales).all().item<bool>()) throw FormatError(source, name + " scales", "not finite");
  if (g_idx.defined()) {
    expect(g_idx, {in_features}, source, name + " g_idx");
    if (g_idx.numel() && (g_idx.min().item<int64_t>() < 0 || g_idx.max().item<int64_t>() >= groups))
      throw FormatError(source, name + " g_idx", "a group index is outside 0.." + std::to_string(groups - 1));
  }
  if (bias.defined()) expect(bias, {out_features}, source, name + " bias");
  if (input_scale.defined()) expect(input_scale, {in_features}, source, name + " input_scale");
  if (transform.defined()) expect(transform, {in_features, in_features}, source, name + " transform");
  if (lora_a.defined() != lora_b.defined())
    throw FormatError(source, name + " lora_a/lora_b", "only one of the pair is present");
  if (lora_a.defined()) {
    expect(lora_a, {lora_a.size(0), in_features}, source, name + " lora_a");
    expect(lora_b, {out_features, lora_a.size(0)}, source, name + " lora_b");
  }
}

LinearSideParts::LinearSideParts(const QuantizedLinear& q, torch::Device device, torch::ScalarType dtype) {
  auto put = [&](const torch::Tensor& t) { return t.defined() ? t.to(device, dtype).contiguous() : t; };
  bias = put(q.bias);
  transform = put(q.transform);
  lora_a = put(q.lora_a);
  lora_b = put(q.lora_b);
}

torch::Tensor LinearSideParts::input(const torch::Tensor& x) const {
  return apply_input_transform(x, transform);
}

torch::Tensor LinearSideParts::add_branch(torch::Tensor y, const torch::Tensor& x) const {
  return lora_a.defined() ? y + torch::linear(torch::linear(x, lora_a), lora_b) : y;
}

torch::Tensor LinearSideParts::dense(torch::Tensor w_hat) const {
  w_hat = fold_input_transform(w_hat, transform);
  if (lora_a.defined()) w_hat = w_hat + torch::matmul(lora_b, lora_a);
  return w_hat;
}

}  // namespace qs::quant
