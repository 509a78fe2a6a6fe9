#pragma once
// ggml blocks store their scales as IEEE half floats at byte offsets with no
// alignment guarantee.

#include <c10/util/Half.h>

#include <cstdint>
#include <cstring>

namespace qs::io {

inline float ggml_half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return c10::detail::fp16_ieee_to_fp32_value(h);
}

}  // namespace qs::io
