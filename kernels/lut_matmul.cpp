#include "kernels/lut_matmul.h"

#include <algorithm>
#include <string>

#include "kernels/cpu/lut_matmul_cpu.h"
#include "kernels/tensor_checks.h"

#ifdef QS_KERNELS_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/cuda/lut_gemv.cuh"
#endif

namespace qs::kernels {
namespace {

[[noreturn]] void bad_lut(const std::string& what) { detail::bad_argument("lut_matmul", what); }

void check_weight(const LutWeight& w, at::Device device) {
  if (auto why = lut_unsupported_reason(w.bits); !why.empty()) bad_lut(why);
  if (auto why = unsupported_reason(w.bits, w.in_features, w.group_size); !why.empty()) bad_lut(why);
  if (!w.planes.defined() || w.planes.sizes() != at::IntArrayRef({w.in_features / 32, w.bits, w.out_features}) ||
      w.planes.scalar_type() != at::kInt || !w.planes.is_contiguous())
    bad_lut("planes must be contiguous int32 [in / 32, bits, out], got " + detail::shape_of(w.planes));
  for (const auto* t : {&w.scales, &w.zeros})
    if (!t->defined() || t->sizes() != at::IntArrayRef({w.groups(), w.out_features}) || t->scalar_type() != at::kHalf ||
        !t->is_contiguous())
      bad_lut("scales and zeros must be contiguous float16 [groups, out], got " + detail::shape_of(*t));
  if (w.planes.device() != device) bad_lut("x is on " + device.str() + " but the weight on " + w.planes.device().str());
}

#ifdef QS_KERNELS_CUDA
void cuda_lut_out(const at::Tensor& x, const LutWeight& w, const at::Tensor& bias, at::Tensor& out) {
  const c10::cuda::CUDAGuard guard(x.device());
  const auto xh = x.to(at::kHalf).contiguous();
  out.zero_();
  LutMatmulParams p;
  p.x = xh.data_ptr();
  p.planes = reinterpret_cast<const uint32_t*>(w.planes.data_ptr<int32_t>());
  p.scales = w.scales.data_ptr();
  p.zeros = w.zeros.data_ptr();
  p.y = out.data_ptr<float>();
  p.m = xh.size(0);
  p.n = w.out_features;
  p.k = w.in_features;
  p.group_size = w.group_size;
  p.x_row_stride = xh.stride(0);
  p.bits = w.bits;
  // Enough k splits for about two blocks per SM: the table is per block, so
  // fewer rows per block would rebuild it more often instead.
  const int64_t row_blocks = (p.n + kLutRowsPerBlock - 1) / kLutRowsPerBlock;
  const int64_t tiles = (p.k + kLutTileInputs - 1) / kLutTileInputs;
  const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int64_t splits = std::clamp<int64_t>((2 * sms + row_blocks * p.m - 1) / (row_blocks * p.m), 1, tiles);
  p.k_split = (tiles + splits - 1) / splits * kLutTileInputs;
  const auto status = launch_lut_gemv(p, at::cuda::getCurrentCUDAStream());
  if (status == KernelStatus::Unsupported)
    throw std::runtime_error("lut_matmul: no LUT kernel for " + std::to_string(p.bits) + " bits, " +
                             std::to_string(p.m) + " rows (at most 65535) and k split " + std::to_string(p.k_split));
  if (status != KernelStatus::Ok)
    throw std::runtime_error(std::string("lut_matmul: the LUT kernel failed to launch (") +
                             cudaGetErrorString(cudaGetLastError()) + ")");
  if (bias.defined()) out.add_(bias.to(at::kFloat));
}
#endif

}  // namespace

void lut_matmul_out(const at::Tensor& x, const LutWeight& w, const at::Tensor& bias, at::Tensor& out) {
  if (!x.defined() || x.dim() != 2 || x.size(1) != w.in_features)
    bad_lut("x must be [m, " + std::to_string(w.in_features) + "], got " + detail::shape_of(x));
  check_weight(w, x.device());
  if (out.dim() != 2 || out.size(0) != x.size(0) || out.size(1) != w.out_features || out.device() != x.device() ||
      out.scalar_type() != at::kFloat || !out.is_contiguous())
    bad_lut("out must be contiguous float32 [" + std::to_string(x.size(0)) + ", " + std::to_string(w.out_features) +
            "] on " + x.device().str() + ", got " + detail::shape_of(out));
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != w.out_features || bias.device() != x.device()))
    bad_lut("bias must be [" + std::to_string(w.out_features) + "] on " + x.device().str() + ", got " +
            detail::shape_of(bias));
  if (x.is_cuda()) {
#ifdef QS_KERNELS_CUDA
    cuda_lut_out(x, w, bias, out);
    return;
#else
    bad_lut("this build has no CUDA kernels");
#endif
  }
  if (!x.device().is_cpu()) bad_lut("x is on " + x.device().str() + ", which has no LUT kernel");
  cpu::lut_matmul_cpu(x.to(at::kFloat).contiguous(), w, bias, out);
}

at::Tensor lut_matmul(const at::Tensor& x, const LutWeight& w, const at::Tensor& bias) {
  if (!x.defined() || x.dim() < 1 || x.size(-1) != w.in_features)
    bad_lut("x must end in " + std::to_string(w.in_features) + " features, got " + detail::shape_of(x));
  auto x2 = x.reshape({-1, w.in_features});
  if (w.perm.defined()) x2 = x2.index_select(1, w.perm);
  auto out = at::empty({x2.size(0), w.out_features}, x2.options().dtype(at::kFloat));
  lut_matmul_out(x2, w, bias, out);
  auto sizes = x.sizes().vec();
  sizes.back() = w.out_features;
  return out.view(sizes).to(x.scalar_type());
}

at::Tensor lut_matmul_reference(const at::Tensor& x, const LutWeight& w, const at::Tensor& bias) {
  auto y = at::matmul(x.to(at::kCPU, at::kDouble), dequantize_reference(w).t());
  if (bias.defined()) y = y + bias.to(at::kCPU, at::kDouble);
  return y;
}

}  // namespace qs::kernels
