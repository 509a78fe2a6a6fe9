#pragma once
// An integer read from a JSON value, or nothing: nlohmann keeps integers past
// INT64_MAX as unsigned, and get<int64_t>() would wrap 2^64 - 1 to -1 (a
// group size of -1 means per-channel to GPTQ's and AWQ's configs).

#include <cstdint>
#include <limits>
#include <optional>

namespace qs::io {

template <class Json>
std::optional<int64_t> json_int64(const Json& v) {
  if (!v.is_number_integer()) return std::nullopt;
  if (v.is_number_unsigned() &&
      v.template get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return std::nullopt;
  return v.template get<int64_t>();
}

}  // namespace qs::io
