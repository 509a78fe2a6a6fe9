#pragma once
// GGUF reader (the container of ggml/llama.cpp, versions 2 and 3). The
// constructor maps the file and validates the whole header — every count,
// string, value type, tensor shape, type and data range — before anything is
// handed out; afterwards metadata and tensor bytes are read straight from the
// mapping, which lives as long as the GgufFile.

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/io/ggml_dequant.h"

namespace qs::io {

// ggml's GGML_MAX_NAME: a tensor name's bytes, terminator included.
constexpr size_t kGgufMaxTensorName = 64;

class MappedFile;

// Metadata value types, numbered as GGUF stores them.
enum class GgufValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

// "uint32", "string", "array", ...; "type <id>" for unknown ids.
std::string gguf_value_type_name(GgufValueType type);

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the contiguous (input) dimension
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // absolute file offset
  uint64_t nbytes = 0;

  int64_t numel() const;
  std::vector<int64_t> torch_shape() const;  // reversed ne: [..., ne[1], ne[0]]
};

class GgufFile {
 public:
  // Maps and validates everything. Throws qs::IoError when the file cannot be
  // read and qs::FormatError naming the file, the field (key or tensor) and
  // the byte offset when anything in it is malformed.
  explicit GgufFile(const std::filesystem::path& path);
  ~GgufFile();
  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;

  const std::filesystem::path& path() const;
  uint32_t version() const { return version_; }

  // Typed metadata access. Each throws qs::FormatError naming the key when it
  // is missing or holds another type. get_int accepts every integer type and
  // bool (a uint64 above INT64_MAX is refused); get_float also accepts
  // integers; the array getters accept arrays of the corresponding kinds.
  bool has(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<double> get_float_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;
  std::vector<std::string> keys() const;  // in file order
  GgufValueType type_of(const std::string& key) const;
  GgufValueType array_type_of(const std::string& key) const;  // element type of an array value

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;  // nullptr if absent
  // The tensor's nbytes raw bytes inside the mapping (valid while *this is).
  const uint8_t* tensor_data(const GgufTensorInfo& info) const;
  // A new float32 tensor of shape info.torch_shape(), dequantized in parallel
  // over rows. Throws qs::FormatError naming the tensor for types without a
  // dequantizer (see ggml_can_dequantize).
  torch::Tensor dequantize(const GgufTensorInfo& info) const;
  // Rows [first, first + n) of a matrix (its torch shape's first dimension),
  // float32 [n, row]: ggml blocks never cross a row, so a row decodes alone.
  // Throws qs::ArgumentError when the range is outside the tensor.
  torch::Tensor dequantize_rows(const GgufTensorInfo& info, int64_t first, int64_t n) const;

 private:
  struct KeyValue {
    std::string key;
    GgufValueType type;
    GgufValueType elem_type;  // arrays only
    uint64_t count;           // arrays only
    uint64_t offset;          // first byte of the value (arrays: of the first element)
  };

  void parse();
  const KeyValue& kv(const std::string& key) const;
  const KeyValue& array_kv(const std::string& key) const;

  std::unique_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  std::vector<KeyValue> kvs_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace qs::io
