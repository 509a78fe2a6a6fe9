#include "kernels/cuda/packed_matmul.cuh"

#include "kernels/cuda/generated/packed_matmul_instances.h"

namespace qs::kernels {
namespace detail {

template <int BITS>
KernelStatus launch_for_bits(const PackedMatmulParams& p, cudaStream_t stream) {
  switch (p.m) {
    case 1: return launch_gemv<BITS, 1>(p, stream);
    case 2: return launch_gemv<BITS, 2>(p, stream);
    case 3: return launch_gemv<BITS, 3>(p, stream);
    case 4: return launch_gemv<BITS, 4>(p, stream);
    case 5: return launch_gemv<BITS, 5>(p, stream);
    case 6: return launch_gemv<BITS, 6>(p, stream);
    case 7: return launch_gemv<BITS, 7>(p, stream);
    case 8: return launch_gemv<BITS, 8>(p, stream);
    default: return p.m <= 16 ? launch_gemm<BITS, 16>(p, stream) : launch_gemm<BITS, 64>(p, stream);
  }
}

}  // namespace detail

const char* packed_kernel_for_rows(int64_t m) { return m <= 8 ? "gemv" : "gemm"; }

KernelStatus launch_packed_matmul(const PackedMatmulParams& p, cudaStream_t stream) {
  if (p.m <= 0 || p.n <= 0) return KernelStatus::Ok;
  switch (p.bits) {
    case 2: return detail::launch_for_bits<2>(p, stream);
    case 3: return detail::launch_for_bits<3>(p, stream);
    case 4: return detail::launch_for_bits<4>(p, stream);
    case 8: return detail::launch_for_bits<8>(p, stream);
    default: return KernelStatus::Unsupported;
  }
}

}  // namespace qs::kernels
