#include "core/io/gguf_metadata_copy.h"

namespace qs::io {

int copy_gguf_metadata(const GgufFile& from, const std::string& prefix, GgufWriter& to) {
  int copied = 0;
  for (const auto& key : from.keys()) {
    if (key.rfind(prefix, 0) != 0) continue;
    switch (const auto type = from.type_of(key)) {
      case GgufValueType::STRING: to.add_string(key, from.get_string(key)); break;
      case GgufValueType::BOOL: to.add_bool(key, from.get_bool(key)); break;
      case GgufValueType::UINT8: to.add_uint8(key, static_cast<uint8_t>(from.get_int(key))); break;
      case GgufValueType::INT8: to.add_int8(key, static_cast<int8_t>(from.get_int(key))); break;
      case GgufValueType::UINT16: to.add_uint16(key, static_cast<uint16_t>(from.get_int(key))); break;
      case GgufValueType::INT16: to.add_int16(key, static_cast<int16_t>(from.get_int(key))); break;
      case GgufValueType::UINT32: to.add_uint32(key, static_cast<uint32_t>(from.get_int(key))); break;
      case GgufValueType::INT32: to.add_int32(key, static_cast<int32_t>(from.get_int(key))); break;
      case GgufValueType::UINT64: to.add_uint64(key, static_cast<uint64_t>(from.get_int(key))); break;
      case GgufValueType::INT64: to.add_int64(key, from.get_int(key)); break;
      case GgufValueType::FLOAT32: to.add_float32(key, static_cast<float>(from.get_float(key))); break;
      case GgufValueType::FLOAT64: to.add_float64(key, from.get_float(key)); break;
      case GgufValueType::ARRAY: {
        const auto elem = from.array_type_of(key);
        if (elem == GgufValueType::STRING)
          to.add_string_array(key, from.get_string_array(key));
        else if (elem == GgufValueType::FLOAT32 || elem == GgufValueType::FLOAT64)
          to.add_float_array(key, from.get_float_array(key), elem);
        else
          to.add_int_array(key, from.get_int_array(key), elem);
        break;
      }
      default:
        (void)type;
        continue;
    }
    ++copied;
  }
  return copied;
}

}  // namespace qs::io
