#include "kernels/lut_weight.h"

#include <stdexcept>

namespace qs::kernels {

int64_t LutWeight::weight_bytes() const { return planes.numel() * 4 + scales.numel() * 2 + zeros.numel() * 2; }

LutWeight LutWeight::to(at::Device device) const {
  LutWeight w = *this;
  w.planes = planes.to(device);
  w.scales = scales.to(device);
  w.zeros = zeros.to(device);
  if (perm.defined()) w.perm = perm.to(device);
  return w;
}

std::string lut_unsupported_reason(int bits) {
  if (bits < 2 || bits > 4) return "the LUT kernel takes 2, 3 or 4 bits, not " + std::to_string(bits);
  return {};
}

LutWeight to_lut_weight(const PackedWeight& w) {
  if (auto why = lut_unsupported_reason(w.bits); !why.empty()) throw std::invalid_argument("to_lut_weight: " + why);
  auto u = unpack_weight(w);
  // Codes in packed column order, so the permutation stays the PackedWeight's.
  auto codes = w.perm.defined() ? u.codes.index_select(1, w.perm.to(at::kCPU)) : u.codes;
  codes = codes.contiguous();
  const int64_t words = w.in_features / 32, out = w.out_features;
  LutWeight l;
  l.bits = w.bits;
  l.group_size = w.group_size;
  l.in_features = w.in_features;
  l.out_features = out;
  l.perm = w.perm;
  l.planes = at::zeros({words, w.bits, out}, at::kInt);
  auto* planes = reinterpret_cast<uint32_t*>(l.planes.data_ptr<int32_t>());
  const uint8_t* c = codes.data_ptr<uint8_t>();
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < w.in_features; ++k)
      for (int b = 0; b < w.bits; ++b)
        if ((c[n * w.in_features + k] >> b) & 1) planes[((k / 32) * w.bits + b) * out + n] |= 1u << (k % 32);
  l.scales = w.scales.to(at::kCPU).t().contiguous();
  l.zeros = u.zeros.to(at::kHalf).t().contiguous();
  return l;
}

at::Tensor dequantize_reference(const LutWeight& w) {
  auto planes = w.planes.to(at::kCPU).contiguous();
  const auto* p = reinterpret_cast<const uint32_t*>(planes.data_ptr<int32_t>());
  const int64_t out = w.out_features, in = w.in_features;
  auto codes = at::zeros({out, in}, at::kDouble);
  double* c = codes.data_ptr<double>();
  for (int64_t n = 0; n < out; ++n)
    for (int64_t k = 0; k < in; ++k)
      for (int b = 0; b < w.bits; ++b)
        if ((p[((k / 32) * w.bits + b) * out + n] >> (k % 32)) & 1u) c[n * in + k] += double(1 << b);
  auto group_of = at::arange(in, at::kLong).div(w.group_size, "floor");
  auto s = w.scales.to(at::kCPU, at::kDouble).t().index_select(1, group_of);
  auto z = w.zeros.to(at::kCPU, at::kDouble).t().index_select(1, group_of);
  auto dense = (codes - z) * s;
  if (!w.perm.defined()) return dense;
  auto original = at::empty_like(dense);
  original.index_copy_(1, w.perm.to(at::kCPU), dense);
  return original;
}

}  // namespace qs::kernels
