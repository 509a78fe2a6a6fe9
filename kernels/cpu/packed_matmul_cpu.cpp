#include "kernels/cpu/packed_matmul_cpu.h"

#include <ATen/Parallel.h>

#include <vector>

namespace qs::kernels::cpu {
namespace {

// Codes 2p, 2p+1 of a chunk by the same shift-and-mask pairs the CUDA kernels use.
template <int BITS>
void decode_chunk(const uint32_t* w, uint32_t (&q)[32]) {
  for (int p = 0; p < 16; ++p) {
    uint32_t pair;
    if constexpr (BITS == 3) {
      pair = ((w[p >> 3] >> (2 * (p & 7))) & 0x00030003u) | (((w[2] >> p) & 0x00010001u) << 2);
    } else {
      constexpr int kPerWord = 16 / BITS;
      constexpr uint32_t kMask = ((1u << BITS) - 1) * 0x00010001u;
      pair = (w[p / kPerWord] >> (BITS * (p % kPerWord))) & kMask;
    }
    q[2 * p] = pair & 0xffffu;
    q[2 * p + 1] = pair >> 16;
  }
}

// Row r of W as float32, chunk by chunk.
template <int BITS>
void dequantize_row(const PackedWeight& w, const uint32_t* qrow, const float* scales, const float* zeros, float* dst) {
  const int64_t group_chunks = w.group_size / 32;
  uint32_t q[32];
  for (int64_t c = 0; c < w.chunks(); ++c) {
    decode_chunk<BITS>(qrow + c * BITS, q);
    const int64_t g = c / group_chunks;
    const float s = scales[g], z = zeros[g] - 1024.f;
    for (int i = 0; i < 32; ++i) dst[c * 32 + i] = (static_cast<float>(q[i]) - z) * s;
  }
}

using RowDequantizer = void (*)(const PackedWeight&, const uint32_t*, const float*, const float*, float*);

RowDequantizer row_dequantizer(int bits) {
  switch (bits) {
    case 2: return dequantize_row<2>;
    case 3: return dequantize_row<3>;
    case 4: return dequantize_row<4>;
    default: return dequantize_row<8>;
  }
}

// Sixteen independent partial sums, so the compiler vectorizes the loop
// without reassociating a single float accumulator.
float dot(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t k = 0;
  for (; k + 16 <= n; k += 16)
    for (int j = 0; j < 16; ++j) acc[j] += a[k + j] * b[k + j];
  float sum = 0.f;
  for (float v : acc) sum += v;
  for (; k < n; ++k) sum += a[k] * b[k];
  return sum;
}

struct RowTables {
  at::Tensor scales, zeros;  // float32 [out, groups]
};

RowTables tables(const PackedWeight& w) {
  return {w.scales.to(at::kFloat).contiguous(), w.zeros.to(at::kFloat).contiguous()};
}

}  // namespace

at::Tensor dequantize_cpu(const PackedWeight& w) {
  auto t = tables(w);
  auto out = at::empty({w.out_features, w.in_features}, at::kFloat);
  const auto* q = reinterpret_cast<const uint32_t*>(w.qweight.data_ptr<int32_t>());
  const int64_t words = w.chunks() * w.bits;
  const float* s = t.scales.data_ptr<float>();
  const float* z = t.zeros.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  const int64_t groups = w.groups();
  const auto dequantize = row_dequantizer(w.bits);
  at::parallel_for(0, w.out_features, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      dequantize(w, q + r * words, s + r * groups, z + r * groups, dst + r * w.in_features);
  });
  return out;
}

void packed_matmul_cpu(const at::Tensor& x, const PackedWeight& w, const at::Tensor& bias, at::Tensor& out) {
  const int64_t m = x.size(0);
  if (m > kFusedMaxRows) {
    auto b = bias.defined() ? bias.to(at::kFloat) : bias;
    out.copy_(at::linear(x, dequantize_cpu(w), b));
    return;
  }
  auto t = tables(w);
  auto b = bias.defined() ? bias.to(at::kFloat).contiguous() : bias;
  const auto* q = reinterpret_cast<const uint32_t*>(w.qweight.data_ptr<int32_t>());
  const int64_t words = w.chunks() * w.bits, groups = w.groups(), in = w.in_features;
  const float* xs = x.data_ptr<float>();
  float* ys = out.data_ptr<float>();
  const auto dequantize = row_dequantizer(w.bits);
  // Rows of W are independent: each thread dequantizes its rows once into a
  // scratch row and dots it with every row of x.
  at::parallel_for(0, w.out_features, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(in));
    for (int64_t r = begin; r < end; ++r) {
      dequantize(w, q + r * words, t.scales.data_ptr<float>() + r * groups,
                     t.zeros.data_ptr<float>() + r * groups, row.data());
      for (int64_t i = 0; i < m; ++i)
        ys[i * w.out_features + r] = dot(row.data(), xs + i * in, in) + (b.defined() ? b.data_ptr<float>()[r] : 0.f);
    }
  });
}

}  // namespace qs::kernels::cpu
