#include "kernels/cpu/lut_matmul_cpu.h"

#include <ATen/Parallel.h>

#include <vector>

namespace qs::kernels::cpu {

void lut_matmul_cpu(const at::Tensor& x, const LutWeight& w, const at::Tensor& bias, at::Tensor& out) {
  const int64_t m = x.size(0), in = w.in_features, n_out = w.out_features, tables = in / 8;
  const auto* planes = reinterpret_cast<const uint32_t*>(w.planes.data_ptr<int32_t>());
  auto scales = w.scales.to(at::kFloat).contiguous();
  auto zeros = w.zeros.to(at::kFloat).contiguous();
  auto b = bias.defined() ? bias.to(at::kFloat).contiguous() : bias;
  const float* s = scales.data_ptr<float>();
  const float* z = zeros.data_ptr<float>();
  std::vector<float> table(static_cast<size_t>(tables) * 256);
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x.data_ptr<float>() + i * in;
    // Entry `mask` of table t: the sum of the inputs 8t + j whose bit j is set;
    // each entry extends the one without its highest bit by one input.
    for (int64_t t = 0; t < tables; ++t) {
      float* row = table.data() + t * 256;
      row[0] = 0.f;
      for (int mask = 1; mask < 256; ++mask) {
        const int high = 31 - __builtin_clz(static_cast<unsigned>(mask));
        row[mask] = row[mask & ~(1 << high)] + xi[t * 8 + high];
      }
    }
    float* yi = out.data_ptr<float>() + i * n_out;
    at::parallel_for(0, n_out, 64, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) {
        float total = 0.f, acc = 0.f, sum_x = 0.f;
        int64_t group = -1;
        for (int64_t word = 0; word < in / 32; ++word) {
          const int64_t g = word * 32 / w.group_size;
          if (g != group) {
            if (group >= 0) total += s[group * n_out + n] * (acc - z[group * n_out + n] * sum_x);
            group = g, acc = 0.f, sum_x = 0.f;
          }
          for (int byte = 0; byte < 4; ++byte) {
            const float* t = table.data() + (word * 4 + byte) * 256;
            for (int bit = 0; bit < w.bits; ++bit)
              acc += static_cast<float>(1 << bit) * t[(planes[(word * w.bits + bit) * n_out + n] >> (8 * byte)) & 255u];
            sum_x += t[255];
          }
        }
        total += s[group * n_out + n] * (acc - z[group * n_out + n] * sum_x);
        yi[n] = total + (b.defined() ? b.data_ptr<float>()[n] : 0.f);
      }
    });
  }
}

}  // namespace qs::kernels::cpu
