// packed_matmul against the float64 reference of the layout: the CPU fallback
// (fused rows and dequantize paths) everywhere, the CUDA kernels where a GPU is
// present, on odd shapes, act-order, bias, 3-D and non-contiguous activations,
// and into outputs poisoned with NaN so an unwritten element cannot pass.

#include <ATen/Context.h>

#include <limits>
#include <stdexcept>

#include "kernels/packed_matmul.h"
#include "tests/kernels/check.h"
#include "tests/kernels/kernel_fixtures.h"

using namespace qs;

namespace {

struct Shape {
  int64_t out, in, group;
};
constexpr Shape kShapes[] = {{37, 96, 32}, {64, 576, 128}, {200, 1536, 64}, {96, 256, 256}};

void require_cuda() {
  if (!at::hasCUDA()) throw test::Skipped{"no CUDA device (these cases run on a GPU machine: packaging/gpu_check.sh)"};
}

}  // namespace

QS_KERNEL_CASE(cpu_matches_reference) {
  for (int bits : {2, 3, 4, 8})
    for (const auto& s : kShapes)
      for (int64_t m : {1, 3, 8, 9, 33}) {
        const auto q = test::random_quantized(s.out, s.in, bits, s.group, s.out == 200, bits + m);
        const auto w = kernels::pack_weight(q.codes, q.scales, q.zeros, bits, s.group, q.g_idx);
        auto x = at::randn({m, s.in});
        auto bias = at::randn({s.out});
        const auto want = at::matmul(x.to(at::kDouble), test::dequantized(q).t()) + bias.to(at::kDouble);
        const auto got = kernels::packed_matmul(x, w, bias);
        const double err = test::relative_error(got, want);
        QS_CHECK(got.scalar_type() == at::kFloat && got.sizes() == at::IntArrayRef({m, s.out}),
                 test::label(bits, s.out, s.in, s.group, m) + ": result shape and dtype");
        QS_CHECK(err < 1e-5, test::label(bits, s.out, s.in, s.group, m) + ": relative error " + std::to_string(err));
      }
}

QS_KERNEL_CASE(cpu_takes_3d_and_strided_inputs) {
  const auto q = test::random_quantized(48, 128, 4, 64);
  const auto w = kernels::pack_weight(q.codes, q.scales, q.zeros, 4, 64);
  auto x3 = at::randn({2, 5, 128});
  const auto y3 = kernels::packed_matmul(x3, w);
  QS_CHECK(y3.sizes() == at::IntArrayRef({2, 5, 48}), "3-D shape");
  QS_CHECK(test::relative_error(y3, kernels::packed_matmul_reference(x3, w)) < 1e-5, "3-D values");
  auto wide = at::randn({128, 6});
  auto strided = wide.t();  // [6, 128] with a column stride of 6
  QS_CHECK(!strided.is_contiguous(), "the input really is strided");
  QS_CHECK(test::relative_error(kernels::packed_matmul(strided, w), kernels::packed_matmul_reference(strided, w)) < 1e-5,
           "strided values");
  auto half = at::randn({3, 128}).to(at::kHalf);
  QS_CHECK(kernels::packed_matmul(half, w).scalar_type() == at::kHalf, "the result keeps x's dtype");
}

QS_KERNEL_CASE(cpu_out_writes_every_element) {
  const auto q = test::random_quantized(40, 64, 3, 32);
  const auto w = kernels::pack_weight(q.codes, q.scales, q.zeros, 3, 32);
  for (int64_t m : {2, 12}) {
    auto x = at::randn({m, 64});
    auto out = at::full({m, 40}, std::numeric_limits<float>::quiet_NaN());
    kernels::packed_matmul_out(x, w, {}, out);
    QS_CHECK(at::isfinite(out).all().item<bool>(), "m " + std::to_string(m) + ": no NaN left");
    QS_CHECK(test::relative_error(out, kernels::packed_matmul_reference(x, w)) < 1e-5, "m " + std::to_string(m));
  }
}

QS_KERNEL_CASE(wrong_arguments_name_themselves) {
  const auto q = test::random_quantized(16, 64, 4, 32);
  const auto w = kernels::pack_weight(q.codes, q.scales, q.zeros, 4, 32);
  QS_CHECK(test::invalid_argument_message([&] { kernels::packed_matmul(at::randn({2, 65}), w); }).find("64 features") != std::string::npos,
           "x width");
  QS_CHECK(test::invalid_argument_message([&] { kernels::packed_matmul(at::randn({2, 64}), w, at::randn({15})); }).find("bias") !=
               std::string::npos,
           "bias length");
  auto out = at::empty({2, 17});
  QS_CHECK(test::invalid_argument_message([&] { kernels::packed_matmul_out(at::randn({2, 64}), w, {}, out); }).find("out must be [2, 16]") !=
               std::string::npos,
           "out shape");
}

QS_KERNEL_CASE(cuda_matches_reference) {
  require_cuda();
  const auto cuda = at::Device(at::kCUDA);
  for (int bits : {2, 3, 4, 8})
    for (const auto& s : kShapes)
      for (int64_t m : {1, 2, 5, 8, 9, 16, 17, 64, 100}) {
        const auto q = test::random_quantized(s.out, s.in, bits, s.group, s.out == 200, bits * 7 + m);
        const auto w = kernels::pack_weight(q.codes, q.scales, q.zeros, bits, s.group, q.g_idx).to(cuda);
        auto x = at::randn({m, s.in}).to(at::kHalf);
        auto bias = (at::randn({s.out}) * 0.1).to(at::kHalf);
        const auto want = at::matmul(x.to(at::kDouble), test::dequantized(q).t()) + bias.to(at::kDouble);
        const auto got = kernels::packed_matmul(x.to(cuda), w, bias.to(cuda));
        const double err = test::relative_error(got, want);
        const auto what = test::label(bits, s.out, s.in, s.group, m) + " " + kernels::packed_kernel_name(m, cuda);
        QS_CHECK(got.is_cuda() && got.scalar_type() == at::kHalf, what + ": device and dtype");
        QS_CHECK(err < 3e-3, what + ": relative error " + std::to_string(err));
      }
}

QS_KERNEL_CASE(cuda_handles_strided_and_poisoned_buffers) {
  require_cuda();
  const auto cuda = at::Device(at::kCUDA);
  for (int bits : {3, 4})
    for (int64_t m : {4, 24}) {
      const auto q = test::random_quantized(72, 192, bits, 64, false, 31 + m);
      const auto w = kernels::pack_weight(q.codes, q.scales, q.zeros, bits, 64).to(cuda);
      // Rows 200 elements apart (aligned), then a view starting one element in (misaligned).
      auto storage = at::randn({m, 200}, at::TensorOptions().device(cuda).dtype(at::kHalf));
      for (const auto& x : {storage.narrow(1, 0, 192), storage.narrow(1, 1, 192)}) {
        auto out = at::full({m, 72}, std::numeric_limits<float>::quiet_NaN(),
                            at::TensorOptions().device(cuda).dtype(at::kHalf));
        kernels::packed_matmul_out(x, w, {}, out);
        const auto what = "W" + std::to_string(bits) + " m" + std::to_string(m) + " offset " +
                          std::to_string(x.storage_offset());
        QS_CHECK(at::isfinite(out).all().item<bool>(), what + ": every output written");
        QS_CHECK(test::relative_error(out, kernels::packed_matmul_reference(x.cpu(), w.to(at::kCPU))) < 3e-3, what);
        QS_CHECK(test::relative_error(kernels::packed_matmul(x, w), kernels::packed_matmul_reference(x.cpu(), w.to(at::kCPU))) < 3e-3,
                 what + " through packed_matmul");
      }
    }
}
