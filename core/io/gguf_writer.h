#pragma once
// GGUF v3 writer: metadata and already-encoded tensor blocks, laid out the way
// ggml's gguf writer does (header, tensor infos, padding, aligned data). It
// validates what it is given so that every file it writes is one GgufFile
// reads back: keys and strings valid UTF-8 and unique, shapes of 1 to 4
// positive dimensions whose first is a whole number of blocks, byte counts
// that match type and shape.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/io/gguf_file.h"

namespace qs::io {

class GgufWriter {
 public:
  // Every add_* throws qs::ArgumentError naming the key or tensor when its
  // arguments are invalid or the name is already used; nothing is added then.

  // Data alignment, a power of two (default 32). Stored as general.alignment
  // (uint32), which therefore cannot be added directly.
  void set_alignment(uint32_t alignment);

  void add_string(const std::string& key, const std::string& value);
  void add_bool(const std::string& key, bool value);
  void add_uint8(const std::string& key, uint8_t value);
  void add_int8(const std::string& key, int8_t value);
  void add_uint16(const std::string& key, uint16_t value);
  void add_int16(const std::string& key, int16_t value);
  void add_uint32(const std::string& key, uint32_t value);
  void add_int32(const std::string& key, int32_t value);
  void add_uint64(const std::string& key, uint64_t value);
  void add_int64(const std::string& key, int64_t value);
  void add_float32(const std::string& key, float value);
  void add_float64(const std::string& key, double value);

  void add_string_array(const std::string& key, const std::vector<std::string>& values);
  // Stored with element type `elem` (an integer type or bool); every value
  // must fit it.
  void add_int_array(const std::string& key, const std::vector<int64_t>& values,
                     GgufValueType elem = GgufValueType::INT32);
  // Stored as float32 or float64.
  void add_float_array(const std::string& key, const std::vector<double>& values,
                       GgufValueType elem = GgufValueType::FLOAT32);

  bool has_key(const std::string& key) const;

  // `data` holds the tensor's blocks exactly as ggml stores them; `ne` is in
  // ggml order (ne[0] contiguous). Tensors are written in the order added.
  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, std::vector<uint8_t> data);

  // Writes the file through a temporary renamed into place; throws
  // qs::IoError naming the path on failure.
  void write(const std::filesystem::path& path) const;

 private:
  struct KeyValue {
    std::string key;
    std::vector<uint8_t> encoded;  // value type id followed by the value
  };
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> data;
  };

  void add_kv(const std::string& key, GgufValueType type, const void* value, size_t size);
  void add_encoded(const std::string& key, std::vector<uint8_t> encoded);
  void check_key(const std::string& key) const;

  uint32_t alignment_ = 32;
  std::vector<KeyValue> kvs_;
  std::vector<Tensor> tensors_;
};

}  // namespace qs::io
