#pragma once
// Random group-quantized matrices for the kernel tests, and the dequantized
// matrix computed straight from codes, zeros, scales and g_idx, without the
// packed layout, as the independent expectation.

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

namespace qs::test {

struct RandomQuantized {
  at::Tensor codes;   // uint8 [out, in]
  at::Tensor scales;  // float32 [out, groups], already representable in fp16
  at::Tensor zeros;   // int32 [out, groups]
  at::Tensor g_idx;   // int32 [in] or undefined
  int bits = 4;
  int64_t group = 128;
};

// act_order: columns are assigned to groups in a random order, as GPTQ's desc_act does.
inline RandomQuantized random_quantized(int64_t out, int64_t in, int bits, int64_t group, bool act_order = false,
                                        uint64_t seed = 0) {
  at::manual_seed(seed);
  RandomQuantized q;
  q.bits = bits;
  q.group = group;
  const int64_t groups = (in + group - 1) / group;
  q.codes = at::randint(0, int64_t{1} << bits, {out, in}, at::kByte);
  q.scales = (at::rand({out, groups}) * 0.02 + 0.001).to(at::kHalf).to(at::kFloat);
  q.zeros = at::randint(0, int64_t{1} << bits, {out, groups}, at::kInt);
  if (act_order) q.g_idx = at::arange(in, at::kLong).div(group, "floor").index_select(0, at::randperm(in)).to(at::kInt);
  return q;
}

inline at::Tensor dequantized(const RandomQuantized& q) {
  const int64_t in = q.codes.size(1);
  auto g = q.g_idx.defined() ? q.g_idx.to(at::kLong) : at::arange(in, at::kLong).div(q.group, "floor");
  return (q.codes.to(at::kDouble) - q.zeros.to(at::kDouble).index_select(1, g)) *
         q.scales.to(at::kDouble).index_select(1, g);
}

inline double relative_error(const at::Tensor& got, const at::Tensor& want) {
  auto g = got.to(at::kCPU, at::kDouble), w = want.to(at::kCPU, at::kDouble);
  return (g - w).norm().item<double>() / std::max(w.norm().item<double>(), 1e-30);
}

inline std::string label(int bits, int64_t out, int64_t in, int64_t group, int64_t m = 0) {
  return "W" + std::to_string(bits) + " " + std::to_string(out) + "x" + std::to_string(in) + " g" +
         std::to_string(group) + (m ? " m" + std::to_string(m) : "");
}

// The message of the std::invalid_argument f() throws, or "" when it throws none.
template <class F>
std::string invalid_argument_message(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

}  // namespace qs::test
