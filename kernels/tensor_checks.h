#pragma once
// What the torch adapters of the kernels share: argument errors that name the
// op, shapes for messages, and the alignment the vectorized loads need.

#include <ATen/ATen.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace qs::kernels::detail {

[[noreturn]] inline void bad_argument(const char* op, const std::string& what) {
  throw std::invalid_argument(std::string(op) + ": " + what);
}

inline std::string shape_of(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// Rows of x 16-byte aligned with unit column stride, copied when they are not.
inline at::Tensor kernel_ready(const at::Tensor& x2) {
  const bool aligned = x2.stride(1) == 1 && x2.stride(0) % 8 == 0 &&
                       reinterpret_cast<uintptr_t>(x2.data_ptr()) % 16 == 0;
  return aligned ? x2 : x2.contiguous();
}

}  // namespace qs::kernels::detail
