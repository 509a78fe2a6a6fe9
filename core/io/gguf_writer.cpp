#include "core/io/gguf_writer.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/utf8.h"

namespace qs::io {
namespace {

constexpr uint32_t kVersion = 3;

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

void require_utf8(const std::string& what, const std::string& s) {
  if (auto bad = first_invalid_utf8(s))
    throw ArgumentError("GgufWriter: " + what + ": invalid UTF-8 at byte " + std::to_string(*bad));
}

// Integer range of an element type, for range checks of add_int_array.
bool int_range(GgufValueType t, int64_t* lo, uint64_t* hi) {
  switch (t) {
    case GgufValueType::BOOL:
      *lo = 0, *hi = 1;
      return true;
    case GgufValueType::UINT8:
      *lo = 0, *hi = UINT8_MAX;
      return true;
    case GgufValueType::INT8:
      *lo = INT8_MIN, *hi = INT8_MAX;
      return true;
    case GgufValueType::UINT16:
      *lo = 0, *hi = UINT16_MAX;
      return true;
    case GgufValueType::INT16:
      *lo = INT16_MIN, *hi = INT16_MAX;
      return true;
    case GgufValueType::UINT32:
      *lo = 0, *hi = UINT32_MAX;
      return true;
    case GgufValueType::INT32:
      *lo = INT32_MIN, *hi = INT32_MAX;
      return true;
    case GgufValueType::UINT64:
      *lo = 0, *hi = UINT64_MAX;
      return true;
    case GgufValueType::INT64:
      *lo = INT64_MIN, *hi = INT64_MAX;
      return true;
    default:
      return false;
  }
}

void put_int_as(std::vector<uint8_t>& out, GgufValueType t, int64_t v) {
  switch (t) {
    case GgufValueType::BOOL:
    case GgufValueType::UINT8:
      put<uint8_t>(out, static_cast<uint8_t>(v));
      break;
    case GgufValueType::INT8:
      put<int8_t>(out, static_cast<int8_t>(v));
      break;
    case GgufValueType::UINT16:
      put<uint16_t>(out, static_cast<uint16_t>(v));
      break;
    case GgufValueType::INT16:
      put<int16_t>(out, static_cast<int16_t>(v));
      break;
    case GgufValueType::UINT32:
      put<uint32_t>(out, static_cast<uint32_t>(v));
      break;
    case GgufValueType::INT32:
      put<int32_t>(out, static_cast<int32_t>(v));
      break;
    case GgufValueType::UINT64:
      put<uint64_t>(out, static_cast<uint64_t>(v));
      break;
    default:
      put<int64_t>(out, v);
      break;
  }
}

uint64_t padded(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

}  // namespace

void GgufWriter::check_key(const std::string& key) const {
  if (key.empty()) throw ArgumentError("GgufWriter: empty metadata key");
  require_utf8("key '" + key + "'", key);
  for (const auto& kv : kvs_)
    if (kv.key == key) throw ArgumentError("GgufWriter: key '" + key + "' added twice");
}

void GgufWriter::add_encoded(const std::string& key, std::vector<uint8_t> encoded) {
  check_key(key);
  if (key == "general.alignment") throw ArgumentError("GgufWriter: set general.alignment with set_alignment()");
  kvs_.push_back({key, std::move(encoded)});
}

void GgufWriter::add_kv(const std::string& key, GgufValueType type, const void* value, size_t size) {
  std::vector<uint8_t> e;
  put<uint32_t>(e, static_cast<uint32_t>(type));
  const auto* p = static_cast<const uint8_t*>(value);
  e.insert(e.end(), p, p + size);
  add_encoded(key, std::move(e));
}

bool GgufWriter::has_key(const std::string& key) const {
  return std::any_of(kvs_.begin(), kvs_.end(), [&](const KeyValue& kv) { return kv.key == key; });
}

void GgufWriter::set_alignment(uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (1u << 30))
    throw ArgumentError("GgufWriter: alignment " + std::to_string(alignment) + " is not a power of two up to 2^30");
  alignment_ = alignment;
  std::vector<uint8_t> e;
  put<uint32_t>(e, static_cast<uint32_t>(GgufValueType::UINT32));
  put<uint32_t>(e, alignment);
  auto it = std::find_if(kvs_.begin(), kvs_.end(), [](const KeyValue& kv) { return kv.key == "general.alignment"; });
  if (it != kvs_.end())
    it->encoded = std::move(e);
  else
    kvs_.push_back({"general.alignment", std::move(e)});
}

void GgufWriter::add_string(const std::string& key, const std::string& value) {
  require_utf8("key '" + key + "' value", value);
  std::vector<uint8_t> e;
  put<uint32_t>(e, static_cast<uint32_t>(GgufValueType::STRING));
  put_string(e, value);
  add_encoded(key, std::move(e));
}

void GgufWriter::add_bool(const std::string& key, bool value) {
  const uint8_t v = value ? 1 : 0;
  add_kv(key, GgufValueType::BOOL, &v, 1);
}
void GgufWriter::add_uint8(const std::string& key, uint8_t v) { add_kv(key, GgufValueType::UINT8, &v, 1); }
void GgufWriter::add_int8(const std::string& key, int8_t v) { add_kv(key, GgufValueType::INT8, &v, 1); }
void GgufWriter::add_uint16(const std::string& key, uint16_t v) { add_kv(key, GgufValueType::UINT16, &v, 2); }
void GgufWriter::add_int16(const std::string& key, int16_t v) { add_kv(key, GgufValueType::INT16, &v, 2); }
void GgufWriter::add_uint32(const std::string& key, uint32_t v) { add_kv(key, GgufValueType::UINT32, &v, 4); }
void GgufWriter::add_int32(const std::string& key, int32_t v) { add_kv(key, GgufValueType::INT32, &v, 4); }
void GgufWriter::add_uint64(const std::string& key, uint64_t v) { add_kv(key, GgufValueType::UINT64, &v, 8); }
void GgufWriter::add_int64(const std::string& key, int64_t v) { add_kv(key, GgufValueType::INT64, &v, 8); }
void GgufWriter::add_float32(const std::string& key, float v) { add_kv(key, GgufValueType::FLOAT32, &v, 4); }
void GgufWriter::add_float64(const std::string& key, double v) { add_kv(key, GgufValueType::FLOAT64, &v, 8); }

void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& values) {
  std::vector<uint8_t> e;
  put<uint32_t>(e, static_cast<uint32_t>(GgufValueType::ARRAY));
  put<uint32_t>(e, static_cast<uint32_t>(GgufValueType::STRING));
  put<uint64_t>(e, values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    require_utf8("key '" + key + "' element " + std::to_string(i), values[i]);
    put_string(e, values[i]);
  }
  add_encoded(key, std::move(e));
}

void GgufWriter::add_int_array(const std::string& key, const std::vector<int64_t>& values, GgufValueType elem) {
  int64_t lo = 0;
  uint64_t hi = 0;
  if (!int_range(elem, &lo, &hi))
    throw ArgumentError("GgufWriter: key '" + key + "': " + gguf_value_type_name(elem) +
                        " is not an integer element type");
  std::vector<uint8_t> e;
  put<uint32_t>(e, static_cast<uint32_t>(GgufValueType::ARRAY));
  put<uint32_t>(e, static_cast<uint32_t>(elem));
  put<uint64_t>(e, values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t v = values[i];
    if (v < lo || (v > 0 && static_cast<uint64_t>(v) > hi))
      throw ArgumentError("GgufWriter: key '" + key + "' element " + std::to_string(i) + ": " + std::to_string(v) +
                          " does not fit " + gguf_value_type_name(elem));
    put_int_as(e, elem, v);
  }
  add_encoded(key, std::move(e));
}

void GgufWriter::add_float_array(const std::string& key, const std::vector<double>& values, GgufValueType elem) {
  if (elem != GgufValueType::FLOAT32 && elem != GgufValueType::FLOAT64)
    throw ArgumentError("GgufWriter: key '" + key + "': " + gguf_value_type_name(elem) +
                        " is not a float element type");
  std::vector<uint8_t> e;
  put<uint32_t>(e, static_cast<uint32_t>(GgufValueType::ARRAY));
  put<uint32_t>(e, static_cast<uint32_t>(elem));
  put<uint64_t>(e, values.size());
  for (double v : values) {
    if (elem == GgufValueType::FLOAT32)
      put<float>(e, static_cast<float>(v));
    else
      put<double>(e, v);
  }
  add_encoded(key, std::move(e));
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                            std::vector<uint8_t> data) {
  const std::string what = "GgufWriter: tensor '" + name + "': ";
  if (name.empty()) throw ArgumentError("GgufWriter: empty tensor name");
  require_utf8("tensor '" + name + "'", name);
  if (name.size() >= kGgufMaxTensorName)
    throw ArgumentError(what + "name longer than " + std::to_string(kGgufMaxTensorName - 1) + " bytes");
  for (const auto& t : tensors_)
    if (t.name == name) throw ArgumentError(what + "added twice");
  if (!ggml_type_from_id(static_cast<uint32_t>(type)))
    throw ArgumentError(what + "unknown ggml type " + std::to_string(static_cast<uint32_t>(type)));
  if (ne.empty() || ne.size() > 4)
    throw ArgumentError(what + std::to_string(ne.size()) + " dimensions, expected 1 to 4");
  int64_t numel = 1;
  for (int64_t d : ne)
    if (d <= 0 || __builtin_mul_overflow(numel, d, &numel))
      throw ArgumentError(what + "dimensions must be positive and their product fit int64");
  const int64_t block = ggml_block_size(type);
  if (ne[0] % block != 0)
    throw ArgumentError(what + "ne[0] = " + std::to_string(ne[0]) + " is not a multiple of " + ggml_type_name(type) +
                        "'s block size " + std::to_string(block));
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel / block), ggml_type_size(type), &nbytes) ||
      nbytes != data.size())
    throw ArgumentError(what + std::to_string(data.size()) + " bytes of data, shape needs " + std::to_string(nbytes));
  tensors_.push_back({name, type, std::move(ne), std::move(data)});
}

void GgufWriter::write(const std::filesystem::path& path) const {
  std::vector<uint8_t> header{'G', 'G', 'U', 'F'};
  put<uint32_t>(header, kVersion);
  put<uint64_t>(header, tensors_.size());
  put<uint64_t>(header, kvs_.size());
  for (const auto& kv : kvs_) {
    put_string(header, kv.key);
    header.insert(header.end(), kv.encoded.begin(), kv.encoded.end());
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(header, t.name);
    put<uint32_t>(header, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<int64_t>(header, d);
    put<uint32_t>(header, static_cast<uint32_t>(t.type));
    put<uint64_t>(header, offset);
    offset += padded(t.data.size(), alignment_);
  }
  header.resize(padded(header.size(), alignment_), 0);

  AtomicFile out(path);
  out.write(header.data(), header.size());
  const std::vector<uint8_t> zeros(alignment_, 0);
  for (const auto& t : tensors_) {
    out.write(t.data.data(), t.data.size());
    out.write(zeros.data(), padded(t.data.size(), alignment_) - t.data.size());
  }
  out.commit();
}

}  // namespace qs::io
