#include "core/io/gguf_file.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>

#include "core/error.h"
#include "core/io/mapped_file.h"
#include "core/io/utf8.h"

namespace qs::io {
namespace {

constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kDefaultAlignment = 32;
// Smallest possible encodings, used to refuse counts that cannot fit in the
// bytes that remain before anything is reserved: a key/value is a string
// length, a type and at least one byte of value; a tensor info is a name
// length, n_dims, one dimension, a type and an offset.
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

// Byte size of a scalar value type; 0 for string and array.
uint64_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::BOOL:
      return 1;
    case GgufValueType::UINT16:
    case GgufValueType::INT16:
      return 2;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::FLOAT32:
      return 4;
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
    case GgufValueType::FLOAT64:
      return 8;
    case GgufValueType::STRING:
    case GgufValueType::ARRAY:
      return 0;
  }
  return 0;
}

bool is_known(uint32_t id) { return id <= static_cast<uint32_t>(GgufValueType::FLOAT64); }

bool is_integer(GgufValueType t) {
  return t != GgufValueType::FLOAT32 && t != GgufValueType::FLOAT64 && scalar_size(t) != 0;
}

bool is_float(GgufValueType t) { return t == GgufValueType::FLOAT32 || t == GgufValueType::FLOAT64; }

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// The integer (or bool) at p; `field` names it when a uint64 does not fit.
int64_t load_int(GgufValueType t, const uint8_t* p, const std::string& path, const std::string& field,
                 uint64_t offset) {
  switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::BOOL:
      return load<uint8_t>(p);
    case GgufValueType::INT8:
      return load<int8_t>(p);
    case GgufValueType::UINT16:
      return load<uint16_t>(p);
    case GgufValueType::INT16:
      return load<int16_t>(p);
    case GgufValueType::UINT32:
      return load<uint32_t>(p);
    case GgufValueType::INT32:
      return load<int32_t>(p);
    case GgufValueType::INT64:
      return load<int64_t>(p);
    case GgufValueType::UINT64: {
      const auto v = load<uint64_t>(p);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw FormatError(path, field, "value " + std::to_string(v) + " does not fit int64", offset);
      return static_cast<int64_t>(v);
    }
    default:
      break;
  }
  throw FormatError(path, field, "expected an integer, found " + gguf_value_type_name(t), offset);
}

double load_number(GgufValueType t, const uint8_t* p, const std::string& path, const std::string& field,
                   uint64_t offset) {
  if (t == GgufValueType::FLOAT32) return load<float>(p);
  if (t == GgufValueType::FLOAT64) return load<double>(p);
  return static_cast<double>(load_int(t, p, path, field, offset));
}

// Key text fit for a message even when it is not valid UTF-8.
std::string escaped(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string dims_text(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// A bounds-checked little-endian cursor over the mapping. Every read first
// checks the bytes that remain, so a truncated or lying header fails with the
// field it was reading instead of running off the end.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& path) : data_(data), size_(size), path_(path) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const std::string& field) const {
    if (n > remaining())
      throw FormatError(path_, field,
                        "file truncated: needs " + std::to_string(n) + " bytes, " + std::to_string(remaining()) +
                            " remain (file size " + std::to_string(size_) + ")",
                        pos_);
  }

  template <class T>
  T read(const std::string& field) {
    need(sizeof(T), field);
    const T v = load<T>(data_ + pos_);
    pos_ += sizeof(T);
    return v;
  }

  void skip(uint64_t n, const std::string& field) {
    need(n, field);
    pos_ += n;
  }

  // A length-prefixed string; its bytes must be valid UTF-8.
  std::string_view read_string(const std::string& field) {
    const uint64_t at = pos_;
    const auto len = read<uint64_t>(field);
    if (len > remaining())
      throw FormatError(
          path_, field,
          "string length " + std::to_string(len) + " exceeds the " + std::to_string(remaining()) + " bytes remaining",
          at);
    const std::string_view s(reinterpret_cast<const char*>(data_ + pos_), len);
    if (auto bad = first_invalid_utf8(s))
      throw FormatError(path_, field, "invalid UTF-8 in \"" + escaped(s) + "\"", pos_ + *bad);
    pos_ += len;
    return s;
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& path_;
};

}  // namespace

std::string gguf_value_type_name(GgufValueType type) {
  static const char* names[] = {"uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
                                "bool",  "string", "array",  "uint64", "int64",  "float64"};
  const auto id = static_cast<uint32_t>(type);
  return is_known(id) ? names[id] : "type " + std::to_string(id);
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

std::vector<int64_t> GgufTensorInfo::torch_shape() const { return {ne.rbegin(), ne.rend()}; }

GgufFile::GgufFile(const std::filesystem::path& path) : file_(std::make_unique<MappedFile>(path)) { parse(); }

GgufFile::~GgufFile() = default;
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;

const std::filesystem::path& GgufFile::path() const { return file_->path(); }

void GgufFile::parse() {
  const std::string path = file_->path().string();
  Cursor c(file_->data(), file_->size(), path);

  c.need(4, "magic");
  if (std::memcmp(file_->data(), "GGUF", 4) != 0)
    throw FormatError(path, "magic", "not a GGUF file (does not start with \"GGUF\")", 0);
  c.skip(4, "magic");
  version_ = c.read<uint32_t>("version");
  if (version_ == 1)
    throw FormatError(path, "version",
                      "GGUF version 1 (the 2023 draft format) is not supported; re-convert the "
                      "model with a current llama.cpp",
                      4);
  if (version_ != 2 && version_ != 3) {
    const bool swapped = (version_ & 0xFFFFu) == 0;
    throw FormatError(path, "version",
                      "unsupported version " + std::to_string(version_) + (swapped ? " (a big-endian file?)" : "") +
                          "; supported: 2, 3",
                      4);
  }
  const auto n_tensors = c.read<uint64_t>("tensor_count");
  const auto n_kv = c.read<uint64_t>("kv_count");
  if (n_tensors > c.remaining() / kMinTensorInfoBytes)
    throw FormatError(path, "tensor_count",
                      std::to_string(n_tensors) + " tensors cannot fit in the " + std::to_string(c.remaining()) +
                          " bytes that remain",
                      8);
  if (n_kv > c.remaining() / kMinKeyValueBytes)
    throw FormatError(path, "kv_count",
                      std::to_string(n_kv) + " key/value pairs cannot fit in the " + std::to_string(c.remaining()) +
                          " bytes that remain",
                      16);

  kvs_.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t key_at = c.pos();
    KeyValue kv{std::string(c.read_string("key #" + std::to_string(i))), GgufValueType::UINT8, GgufValueType::UINT8, 0,
                0};
    const std::string field = "key '" + kv.key + "'";
    if (auto it = kv_index_.find(kv.key); it != kv_index_.end())
      throw FormatError(path, field, "duplicate key", key_at);
    const uint64_t type_at = c.pos();
    const auto type_id = c.read<uint32_t>(field + " value type");
    if (!is_known(type_id)) throw FormatError(path, field, "unknown value type " + std::to_string(type_id), type_at);
    kv.type = static_cast<GgufValueType>(type_id);
    uint64_t count = 1;
    GgufValueType elem = kv.type;
    if (kv.type == GgufValueType::ARRAY) {
      const uint64_t elem_at = c.pos();
      const auto elem_id = c.read<uint32_t>(field + " array element type");
      if (elem_id == static_cast<uint32_t>(GgufValueType::ARRAY))
        throw FormatError(path, field, "nested arrays are not supported", elem_at);
      if (!is_known(elem_id))
        throw FormatError(path, field, "unknown array element type " + std::to_string(elem_id), elem_at);
      elem = static_cast<GgufValueType>(elem_id);
      const uint64_t count_at = c.pos();
      count = c.read<uint64_t>(field + " array length");
      // A string element takes at least its 8-byte length.
      const uint64_t min_size = elem == GgufValueType::STRING ? 8 : scalar_size(elem);
      if (count > c.remaining() / min_size)
        throw FormatError(path, field,
                          "array of " + std::to_string(count) + " " + gguf_value_type_name(elem) +
                              " cannot fit in the " + std::to_string(c.remaining()) + " bytes that remain",
                          count_at);
      kv.elem_type = elem;
      kv.count = count;
    }
    kv.offset = c.pos();
    if (elem == GgufValueType::STRING) {
      for (uint64_t j = 0; j < count; ++j) c.read_string(field);
    } else {
      const uint64_t at = c.pos();
      c.skip(count * scalar_size(elem), field);
      if (elem == GgufValueType::BOOL)
        for (uint64_t j = 0; j < count; ++j)
          if (file_->data()[at + j] > 1) throw FormatError(path, field, "bool value is neither 0 nor 1", at + j);
    }
    kv_index_.emplace(kv.key, kvs_.size());
    kvs_.push_back(std::move(kv));
  }

  uint64_t alignment = kDefaultAlignment;
  if (has("general.alignment")) {
    const KeyValue& a = kv("general.alignment");
    if (!is_integer(a.type) || a.type == GgufValueType::BOOL)
      throw FormatError(path, "general.alignment", "expected an integer, found " + gguf_value_type_name(a.type),
                        a.offset);
    const int64_t v = get_int("general.alignment");
    if (v <= 0 || (v & (v - 1)) != 0 || v > (int64_t{1} << 30))
      throw FormatError(path, "general.alignment", "must be a power of two up to 2^30, found " + std::to_string(v),
                        a.offset);
    alignment = static_cast<uint64_t>(v);
  }

  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const uint64_t name_at = c.pos();
    GgufTensorInfo t;
    t.name = std::string(c.read_string("tensor #" + std::to_string(i) + " name"));
    const std::string field = "tensor '" + t.name + "'";
    if (t.name.size() >= kGgufMaxTensorName)
      throw FormatError(
          path, field,
          "name is " + std::to_string(t.name.size()) + " bytes, ggml allows " + std::to_string(kGgufMaxTensorName - 1),
          name_at);
    if (tensor_index_.count(t.name)) throw FormatError(path, field, "duplicate tensor name", name_at);
    const uint64_t dims_at = c.pos();
    const auto n_dims = c.read<uint32_t>(field + " n_dims");
    if (n_dims < 1 || n_dims > kMaxDims)
      throw FormatError(path, field, "n_dims is " + std::to_string(n_dims) + ", expected 1 to 4", dims_at);
    int64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t at = c.pos();
      const auto ne = c.read<int64_t>(field + " ne[" + std::to_string(d) + "]");
      t.ne.push_back(ne);
      if (ne <= 0)
        throw FormatError(path, field,
                          "ne[" + std::to_string(d) + "] is " + std::to_string(ne) + ", dimensions must be positive",
                          at);
      if (__builtin_mul_overflow(numel, ne, &numel))
        throw FormatError(path, field, "element count of shape " + dims_text(t.ne) + " overflows", at);
    }
    const uint64_t type_at = c.pos();
    const auto type_id = c.read<uint32_t>(field + " type");
    const auto type = ggml_type_from_id(type_id);
    if (!type) throw FormatError(path, field, "unknown tensor type " + std::to_string(type_id), type_at);
    t.type = *type;
    const int64_t block = ggml_block_size(t.type);
    if (t.ne[0] % block != 0)
      throw FormatError(path, field,
                        "ne[0] = " + std::to_string(t.ne[0]) + " is not a multiple of " + ggml_type_name(t.type) +
                            "'s block size " + std::to_string(block),
                        dims_at + 4);
    if (__builtin_mul_overflow(static_cast<uint64_t>(numel / block), ggml_type_size(t.type), &t.nbytes))
      throw FormatError(path, field, "byte size of shape " + dims_text(t.ne) + " overflows", dims_at);
    t.offset = c.read<uint64_t>(field + " offset");
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // Tensor offsets are relative to the data section, which starts at the
  // first aligned position after the header.
  const uint64_t data_start = (c.pos() + alignment - 1) / alignment * alignment;
  const uint64_t size = file_->size();
  for (auto& t : tensors_) {
    const std::string field = "tensor '" + t.name + "'";
    if (t.offset % alignment != 0)
      throw FormatError(path, field,
                        "data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                            std::to_string(alignment));
    uint64_t absolute = 0, end = 0;
    const bool overflow =
        __builtin_add_overflow(data_start, t.offset, &absolute) || __builtin_add_overflow(absolute, t.nbytes, &end);
    if (overflow || end > size) {
      const std::string where =
          overflow ? std::to_string(data_start) + " + " + std::to_string(t.offset) : std::to_string(absolute);
      throw FormatError(path, field,
                        "data [offset " + where + ", " + std::to_string(t.nbytes) +
                            " bytes] extends past end of file (size " + std::to_string(size) + ")");
    }
    t.offset = absolute;
  }
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const auto* a, const auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& prev = *by_offset[i - 1];
    const GgufTensorInfo& cur = *by_offset[i];
    if (prev.offset + prev.nbytes > cur.offset)
      throw FormatError(path, "tensor '" + cur.name + "'",
                        "data at offset " + std::to_string(cur.offset) + " overlaps tensor '" + prev.name + "'");
  }
}

const GgufFile::KeyValue& GgufFile::kv(const std::string& key) const {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end()) throw FormatError(path().string(), key, "key not found");
  return kvs_[it->second];
}

const GgufFile::KeyValue& GgufFile::array_kv(const std::string& key) const {
  const KeyValue& v = kv(key);
  if (v.type != GgufValueType::ARRAY)
    throw FormatError(path().string(), key, "expected an array, found " + gguf_value_type_name(v.type), v.offset);
  return v;
}

bool GgufFile::has(const std::string& key) const { return kv_index_.count(key) != 0; }

std::vector<std::string> GgufFile::keys() const {
  std::vector<std::string> out;
  out.reserve(kvs_.size());
  for (const auto& v : kvs_) out.push_back(v.key);
  return out;
}

std::string GgufFile::get_string(const std::string& key) const {
  const KeyValue& v = kv(key);
  if (v.type != GgufValueType::STRING)
    throw FormatError(path().string(), key, "expected a string, found " + gguf_value_type_name(v.type), v.offset);
  const uint8_t* p = file_->data() + v.offset;
  return std::string(reinterpret_cast<const char*>(p + 8), load<uint64_t>(p));
}

int64_t GgufFile::get_int(const std::string& key) const {
  const KeyValue& v = kv(key);
  return load_int(v.type, file_->data() + v.offset, path().string(), key, v.offset);
}

double GgufFile::get_float(const std::string& key) const {
  const KeyValue& v = kv(key);
  return load_number(v.type, file_->data() + v.offset, path().string(), key, v.offset);
}

bool GgufFile::get_bool(const std::string& key) const {
  const KeyValue& v = kv(key);
  if (v.type != GgufValueType::BOOL)
    throw FormatError(path().string(), key, "expected a bool, found " + gguf_value_type_name(v.type), v.offset);
  return file_->data()[v.offset] != 0;
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const KeyValue& v = array_kv(key);
  if (v.elem_type != GgufValueType::STRING)
    throw FormatError(path().string(), key,
                      "expected an array of strings, found an array of " + gguf_value_type_name(v.elem_type), v.offset);
  std::vector<std::string> out;
  out.reserve(v.count);
  const uint8_t* p = file_->data() + v.offset;
  for (uint64_t i = 0; i < v.count; ++i) {
    const auto len = load<uint64_t>(p);
    out.emplace_back(reinterpret_cast<const char*>(p + 8), len);
    p += 8 + len;
  }
  return out;
}

std::vector<double> GgufFile::get_float_array(const std::string& key) const {
  const KeyValue& v = array_kv(key);
  if (!is_float(v.elem_type) && !is_integer(v.elem_type))
    throw FormatError(path().string(), key,
                      "expected an array of numbers, found an array of " + gguf_value_type_name(v.elem_type), v.offset);
  const uint64_t step = scalar_size(v.elem_type);
  std::vector<double> out(v.count);
  for (uint64_t i = 0; i < v.count; ++i)
    out[i] = load_number(v.elem_type, file_->data() + v.offset + i * step, path().string(), key, v.offset + i * step);
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const KeyValue& v = array_kv(key);
  if (!is_integer(v.elem_type))
    throw FormatError(path().string(), key,
                      "expected an array of integers, found an array of " + gguf_value_type_name(v.elem_type),
                      v.offset);
  const uint64_t step = scalar_size(v.elem_type);
  std::vector<int64_t> out(v.count);
  for (uint64_t i = 0; i < v.count; ++i)
    out[i] = load_int(v.elem_type, file_->data() + v.offset + i * step, path().string(), key, v.offset + i * step);
  return out;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const uint8_t* GgufFile::tensor_data(const GgufTensorInfo& info) const {
  // The info may have been built by the caller rather than taken from
  // tensors(); never hand out a range outside the mapping.
  if (info.offset > file_->size() || info.nbytes > file_->size() - info.offset)
    throw ArgumentError(path().string() + ": tensor '" + info.name + "': data range [offset " +
                        std::to_string(info.offset) + ", " + std::to_string(info.nbytes) +
                        " bytes] is outside the file");
  return file_->data() + info.offset;
}

torch::Tensor GgufFile::dequantize(const GgufTensorInfo& info) const {
  const int64_t row = info.ne.empty() ? 1 : info.ne[0];
  return dequantize_rows(info, 0, info.numel() / row).reshape(info.torch_shape());
}

torch::Tensor GgufFile::dequantize_rows(const GgufTensorInfo& info, int64_t first, int64_t n) const {
  if (!ggml_can_dequantize(info.type))
    throw FormatError(path().string(), "tensor '" + info.name + "'",
                      "dequantization of type " + ggml_type_name(info.type) + " is not supported");
  const uint8_t* src = tensor_data(info);
  const int64_t row = info.ne.empty() ? 1 : info.ne[0];
  const int64_t rows = info.numel() / row;
  const auto row_bytes =
      static_cast<int64_t>(row / ggml_block_size(info.type) * static_cast<int64_t>(ggml_type_size(info.type)));
  if (static_cast<uint64_t>(rows * row_bytes) != info.nbytes)
    throw ArgumentError(path().string() + ": tensor '" + info.name + "': nbytes " + std::to_string(info.nbytes) +
                        " does not match shape " + dims_text(info.ne) + " of type " + ggml_type_name(info.type));
  if (first < 0 || n < 0 || first > rows - n)
    throw ArgumentError(path().string() + ": tensor '" + info.name + "': rows [" + std::to_string(first) + ", " +
                        std::to_string(first + n) + ") outside its " + std::to_string(rows));
  torch::Tensor out = torch::empty({n, row}, torch::kFloat32);
  float* dst = out.data_ptr<float>();
  src += first * row_bytes;
  // About 64K elements per task keeps the scheduling overhead negligible
  // while still splitting a 576-wide matrix across all cores.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / row);
  at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) dequantize_row(info.type, src + r * row_bytes, dst + r * row, row);
  });
  // Decoded into memory of its own: the file's pages can go.
  file_->release(src, static_cast<size_t>(n * row_bytes));
  return out;
}

}  // namespace qs::io

namespace qs::io {

GgufValueType GgufFile::type_of(const std::string& key) const { return kv(key).type; }

GgufValueType GgufFile::array_type_of(const std::string& key) const { return array_kv(key).elem_type; }

}  // namespace qs::io
