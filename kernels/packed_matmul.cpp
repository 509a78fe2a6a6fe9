#include "kernels/packed_matmul.h"

#include <string>

#include "kernels/cpu/packed_matmul_cpu.h"
#include "kernels/tensor_checks.h"

#ifdef QS_KERNELS_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/cuda/packed_matmul.cuh"
#endif

namespace qs::kernels {
namespace {

[[noreturn]] void bad_matmul(const std::string& what) { detail::bad_argument("packed_matmul", what); }

using detail::shape_of;

void check_weight(const PackedWeight& w, at::Device device) {
  if (!w.qweight.defined() || !w.scales.defined() || !w.zeros.defined()) bad_matmul("the weight is empty");
  if (auto why = unsupported_reason(w.bits, w.in_features, w.group_size); !why.empty()) bad_matmul(why);
  if (w.qweight.sizes() != at::IntArrayRef({w.out_features, w.chunks() * w.bits}) ||
      w.qweight.scalar_type() != at::kInt || !w.qweight.is_contiguous())
    bad_matmul("qweight must be contiguous int32 [out, in / 32 * bits], got " + shape_of(w.qweight));
  for (const auto* t : {&w.scales, &w.zeros})
    if (t->sizes() != at::IntArrayRef({w.out_features, w.groups()}) || t->scalar_type() != at::kHalf ||
        !t->is_contiguous())
      bad_matmul("scales and zeros must be contiguous float16 [out, groups], got " + shape_of(*t));
  if (w.qweight.device() != device)
    bad_matmul("x is on " + device.str() + " but the weight on " + w.qweight.device().str());
}

#ifdef QS_KERNELS_CUDA
void cuda_matmul_out(const at::Tensor& x, const PackedWeight& w, const at::Tensor& bias, at::Tensor& out) {
  if (x.scalar_type() != at::kHalf) bad_matmul("x must be float16 on CUDA");
  if (out.scalar_type() != at::kHalf || !out.is_contiguous()) bad_matmul("out must be contiguous float16 on CUDA");
  const c10::cuda::CUDAGuard guard(x.device());
  PackedMatmulParams p;
  p.x = x.data_ptr();
  p.qweight = reinterpret_cast<const uint32_t*>(w.qweight.data_ptr<int32_t>());
  p.scales = w.scales.data_ptr();
  p.zeros = w.zeros.data_ptr();
  p.bias = bias.defined() ? bias.data_ptr() : nullptr;
  p.y = out.data_ptr();
  p.m = x.size(0);
  p.n = w.out_features;
  p.k = w.in_features;
  p.groups = w.groups();
  p.group_size = w.group_size;
  p.x_row_stride = x.stride(0);
  p.y_row_stride = out.stride(0);
  p.bits = w.bits;
  const auto status = launch_packed_matmul(p, at::cuda::getCurrentCUDAStream());
  if (status == KernelStatus::Unsupported)
    throw std::runtime_error("packed_matmul: no " + std::string(packed_kernel_for_rows(p.m)) + " kernel for " +
                             std::to_string(w.bits) + " bits");
  if (status != KernelStatus::Ok)
    throw std::runtime_error("packed_matmul: the " + std::string(packed_kernel_for_rows(p.m)) + " kernel for " +
                             std::to_string(w.bits) + " bits failed to launch (" +
                             cudaGetErrorString(cudaGetLastError()) + ")");
}
#endif

}  // namespace

std::string packed_kernel_name(int64_t m, at::Device device) {
  if (device.is_cuda()) return m <= 8 ? "cuda-gemv" : "cuda-gemm";
  return m <= cpu::kFusedMaxRows ? "cpu-fused" : "cpu-dequantize";
}

void packed_matmul_out(const at::Tensor& x, const PackedWeight& w, const at::Tensor& bias, at::Tensor& out) {
  if (!x.defined() || x.dim() != 2 || x.size(1) != w.in_features)
    bad_matmul("x must be [m, " + std::to_string(w.in_features) + "], got " +
               (x.defined() ? shape_of(x) : "undefined"));
  check_weight(w, x.device());
  if (out.dim() != 2 || out.size(0) != x.size(0) || out.size(1) != w.out_features || out.device() != x.device())
    bad_matmul("out must be [" + std::to_string(x.size(0)) + ", " + std::to_string(w.out_features) + "] on " +
               x.device().str() + ", got " + shape_of(out));
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != w.out_features || bias.device() != x.device()))
    bad_matmul("bias must be [" + std::to_string(w.out_features) + "] on " + x.device().str() + ", got " +
               shape_of(bias));
  if (x.is_cuda()) {
#ifdef QS_KERNELS_CUDA
    cuda_matmul_out(detail::kernel_ready(x), w, bias.defined() ? bias.to(at::kHalf).contiguous() : bias, out);
    return;
#else
    bad_matmul("this build has no CUDA kernels");
#endif
  }
  if (!x.device().is_cpu()) bad_matmul("x is on " + x.device().str() + ", which has no packed kernels");
  if (out.scalar_type() != at::kFloat || !out.is_contiguous()) bad_matmul("out must be contiguous float32 on the CPU");
  cpu::packed_matmul_cpu(x.to(at::kFloat).contiguous(), w, bias, out);
}

at::Tensor packed_matmul(const at::Tensor& x, const PackedWeight& w, const at::Tensor& bias) {
  if (!x.defined() || x.dim() < 1 || x.size(-1) != w.in_features)
    bad_matmul("x must end in " + std::to_string(w.in_features) + " features, got " +
               (x.defined() ? shape_of(x) : "undefined"));
  auto x2 = x.reshape({-1, w.in_features});
  if (w.perm.defined()) x2 = x2.index_select(1, w.perm);
  const auto compute = x.is_cuda() ? at::kHalf : at::kFloat;
  x2 = x2.to(compute);
  auto out = at::empty({x2.size(0), w.out_features}, x2.options());
  packed_matmul_out(x2, w, bias, out);
  auto sizes = x.sizes().vec();
  sizes.back() = w.out_features;
  return out.view(sizes).to(x.scalar_type());
}

at::Tensor dequantize_reference(const PackedWeight& w) {
  const auto u = unpack_weight(w);
  auto group_of = at::arange(w.in_features, at::kLong).div(w.group_size, "floor");
  if (w.perm.defined()) {
    // Column perm[j] sits at packed position j, in group j / group_size.
    auto g = at::empty_like(group_of);
    g.index_copy_(0, w.perm.to(at::kCPU), group_of);
    group_of = g;
  }
  auto s = u.scales.to(at::kDouble).index_select(1, group_of);
  auto z = u.zeros.to(at::kDouble).index_select(1, group_of);
  return (u.codes.to(at::kDouble) - z) * s;
}

at::Tensor packed_matmul_reference(const at::Tensor& x, const PackedWeight& w, const at::Tensor& bias) {
  auto y = at::matmul(x.to(at::kCPU, at::kDouble), dequantize_reference(w).t());
  if (bias.defined()) y = y + bias.to(at::kCPU, at::kDouble);
  return y;
}

}  // namespace qs::kernels
