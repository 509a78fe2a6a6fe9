// The LUT view: bit planes decode to the same matrix as the packed layout, and
// the subset-sum algorithm (CPU; CUDA where a GPU is present) matches the
// float64 reference, with per-channel and short last groups and act-order.

#include <ATen/Context.h>

#include <limits>
#include <stdexcept>

#include "kernels/lut_matmul.h"
#include "kernels/lut_weight.h"
#include "kernels/packed_matmul.h"
#include "tests/kernels/check.h"
#include "tests/kernels/kernel_fixtures.h"

using namespace qs;

namespace {

struct Case {
  int64_t out, in, group;
  bool act_order;
};
constexpr Case kCases[] = {{37, 96, 32, false}, {64, 576, 128, true}, {300, 1536, 64, false}, {40, 576, 576, false}};

kernels::LutWeight lut_of(const test::RandomQuantized& q) {
  return kernels::to_lut_weight(kernels::pack_weight(q.codes, q.scales, q.zeros, q.bits, q.group, q.g_idx));
}

}  // namespace

QS_KERNEL_CASE(lut_planes_decode_to_the_packed_matrix) {
  for (int bits : {2, 3, 4})
    for (const auto& c : kCases) {
      const auto q = test::random_quantized(c.out, c.in, bits, c.group, c.act_order, 50 + bits);
      const auto lut = lut_of(q);
      QS_CHECK(lut.planes.sizes() == at::IntArrayRef({c.in / 32, bits, c.out}), "plane shape");
      QS_CHECK(test::relative_error(kernels::dequantize_reference(lut), test::dequantized(q)) == 0.0,
               test::label(bits, c.out, c.in, c.group) + ": planes decode exactly");
    }
  auto codes = at::zeros({2, 32}, at::kByte);
  codes[1][5] = 6;  // bits 1 and 2 of row 1, input 5
  const auto lut = kernels::to_lut_weight(
      kernels::pack_weight(codes, at::ones({2, 1}), at::zeros({2, 1}, at::kInt), 3, 32));
  QS_CHECK(lut.planes[0][0][1].item<int32_t>() == 0, "bit 0 plane");
  QS_CHECK(lut.planes[0][1][1].item<int32_t>() == (1 << 5), "bit 1 plane: input 5 of row 1");
  QS_CHECK(lut.planes[0][2][1].item<int32_t>() == (1 << 5), "bit 2 plane");
  QS_CHECK(lut.planes[0][1][0].item<int32_t>() == 0, "row 0 untouched");
}

QS_KERNEL_CASE(lut_cpu_matches_reference) {
  for (int bits : {2, 3, 4})
    for (const auto& c : kCases)
      for (int64_t m : {1, 3}) {
        const auto q = test::random_quantized(c.out, c.in, bits, c.group, c.act_order, 60 + bits + m);
        const auto lut = lut_of(q);
        auto x = at::randn({m, c.in});
        auto bias = at::randn({c.out});
        const auto want = at::matmul(x.to(at::kDouble), test::dequantized(q).t()) + bias.to(at::kDouble);
        const double err = test::relative_error(kernels::lut_matmul(x, lut, bias), want);
        QS_CHECK(err < 1e-5, test::label(bits, c.out, c.in, c.group, m) + ": relative error " + std::to_string(err));
      }
}

QS_KERNEL_CASE(lut_refuses_eight_bits) {
  const auto q = test::random_quantized(8, 64, 8, 32);
  const auto w = kernels::pack_weight(q.codes, q.scales, q.zeros, 8, 32);
  QS_CHECK(test::invalid_argument_message([&] { kernels::to_lut_weight(w); }).find("not 8") != std::string::npos,
           "8-bit weights are refused with the reason");
}

QS_KERNEL_CASE(lut_cuda_matches_reference) {
  if (!at::hasCUDA()) throw test::Skipped{"no CUDA device (these cases run on a GPU machine: packaging/gpu_check.sh)"};
  const auto cuda = at::Device(at::kCUDA);
  for (int bits : {2, 3, 4})
    for (const auto& c : kCases)
      for (int64_t m : {1, 2, 4}) {
        const auto q = test::random_quantized(c.out, c.in, bits, c.group, c.act_order, 70 + bits + m);
        const auto lut = lut_of(q).to(cuda);
        auto x = at::randn({m, c.in}).to(at::kHalf);
        auto out = at::full({m, c.out}, std::numeric_limits<float>::quiet_NaN(),
                            at::TensorOptions().device(cuda).dtype(at::kFloat));
        auto xc = x.to(cuda);
        if (lut.perm.defined()) xc = xc.index_select(1, lut.perm);
        kernels::lut_matmul_out(xc, lut, {}, out);
        const auto want = at::matmul(x.to(at::kDouble), test::dequantized(q).t());
        const auto what = test::label(bits, c.out, c.in, c.group, m) + " cuda-lut";
        QS_CHECK(at::isfinite(out).all().item<bool>(), what + ": every output written");
        QS_CHECK(test::relative_error(out, want) < 1e-3, what + ": relative error " +
                                                              std::to_string(test::relative_error(out, want)));
      }
}
