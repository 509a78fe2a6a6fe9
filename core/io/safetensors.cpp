#include "core/io/json_brief.h"
#include "core/io/json_error.h"
#include "core/io/safetensors.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/mapped_file.h"
#include "core/io/mapped_tensor.h"
#include "core/io/utf8.h"

namespace qs::io {
namespace {

// HF's own reader refuses headers above 100 MB; so do we, before allocating.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},   {"F8_E4M3", torch::kFloat8_e4m3fn, 1}, {"F8_E5M2", torch::kFloat8_e5m2, 1},
};

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}

}  // namespace

std::string safetensors_dtype_name(torch::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d.name;
  throw ArgumentError(std::string("safetensors cannot store dtype ") + c10::toString(t));
}

bool safetensors_dtype_from_name(const std::string& name, torch::ScalarType* out,
                                 size_t* elem_size) {
  for (const auto& d : kDtypes) {
    if (name == d.name) {
      if (out) *out = d.type;
      if (elem_size) *elem_size = d.size;
      return true;
    }
  }
  return false;
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path)
    : file_(std::make_shared<const MappedFile>(path)) {
  const std::string file = path.string();
  const size_t size = file_->size();
  if (size < 8) throw FormatError(file, "header length", "file is " + std::to_string(size) +
                                                             " bytes, shorter than the 8-byte length prefix", 0);
  uint64_t header_len = 0;
  std::memcpy(&header_len, file_->data(), 8);  // little-endian on every platform we build for
  if (header_len > kMaxHeaderBytes || header_len > size - 8)
    throw FormatError(file, "header length",
                      std::to_string(header_len) + " bytes exceeds the " +
                          std::to_string(size - 8) + " bytes after the prefix (limit 100 MB)", 0);
  const auto* header_begin = reinterpret_cast<const char*>(file_->data() + 8);
  const std::string_view header(header_begin, header_len);
  if (auto bad = first_invalid_utf8(header))
    throw FormatError(file, "header", "invalid UTF-8", 8 + *bad);

  nlohmann::json j;
  // The header's top-level keys are tensor names: a name given twice would
  // silently keep the last entry, so the parser is watched for repeats.
  std::set<std::string> names;
  std::string repeated;
  const auto watch = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key && repeated.empty() &&
        !names.insert(parsed.get<std::string>()).second)
      repeated = parsed.get<std::string>();
    return true;
  };
  try {
    j = nlohmann::json::parse(header, watch);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(file, "header", std::string("invalid JSON: ") + e.what(), io::json_error_offset(e, 8));
  }
  if (!j.is_object()) throw FormatError(file, "header", "is not a JSON object", 8);
  if (!repeated.empty()) throw FormatError(file, "tensor '" + repeated + "'", "named twice in the header", 8);

  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw FormatError(file, "__metadata__", "is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw FormatError(file, "__metadata__." + m.key(), "value is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string field = "tensor '" + name + "'";
    if (!v.is_object()) throw FormatError(file, field, "entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string())
      throw FormatError(file, field + ".dtype", "missing or not a string");
    SafetensorsEntry e;
    e.name = name;
    e.dtype = v["dtype"].get<std::string>();
    size_t elem = 0;
    if (!safetensors_dtype_from_name(e.dtype, nullptr, &elem))
      throw FormatError(file, field + ".dtype", "unsupported dtype '" + e.dtype + "'");
    if (!v.contains("shape") || !v["shape"].is_array())
      throw FormatError(file, field + ".shape", "missing or not an array");
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned())
        throw FormatError(file, field + ".shape", "dimension " + json_brief(d) + " is not a non-negative integer");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          mul_overflows(numel, dim, &numel))
        throw FormatError(file, field + ".shape", "element count overflows");
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& off = v.contains("data_offsets") ? v["data_offsets"] : nlohmann::json();
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      throw FormatError(file, field + ".data_offsets", "missing or not [begin, end]");
    const uint64_t begin = off[0].get<uint64_t>();
    const uint64_t end = off[1].get<uint64_t>();
    uint64_t nbytes = 0;
    if (mul_overflows(numel, elem, &nbytes))
      throw FormatError(file, field + ".shape", "byte size overflows");
    if (begin > end || end > data_size)
      throw FormatError(file, field + ".data_offsets",
                        "[" + std::to_string(begin) + ", " + std::to_string(end) +
                            "] lies outside the " + std::to_string(data_size) + "-byte data section",
                        data_start + begin);
    if (end - begin != nbytes)
      throw FormatError(file, field + ".data_offsets",
                        "span of " + std::to_string(end - begin) + " bytes does not match " +
                            e.dtype + " shape (" + std::to_string(nbytes) + " bytes)");
    e.offset = data_start + begin;
    e.nbytes = nbytes;
    if (nbytes > 0) ranges.emplace_back(begin, end);
    entries_.push_back(std::move(e));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      throw FormatError(file, "data_offsets", "two tensors overlap", data_start + ranges[i].first);
  std::sort(entries_.begin(), entries_.end(),
            [](const auto& a, const auto& b) { return a.offset < b.offset; });
}

SafetensorsFile::~SafetensorsFile() = default;
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;

const std::filesystem::path& SafetensorsFile::path() const { return file_->path(); }

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  const SafetensorsEntry* e = find(name);
  if (!e) throw FormatError(path().string(), "tensor '" + name + "'", "not in the file");
  return *e;
}

torch::Tensor SafetensorsFile::load(const std::string& name) const {
  const auto& e = entry(name);
  torch::ScalarType type{};
  safetensors_dtype_from_name(e.dtype, &type, nullptr);
  auto out = torch::empty(e.shape, torch::TensorOptions().dtype(type));
  if (e.nbytes) std::memcpy(out.data_ptr(), file_->data() + e.offset, e.nbytes);
  // The copy is what is used: the file's pages can go.
  file_->release(file_->data() + e.offset, e.nbytes);
  return out;
}

torch::Tensor SafetensorsFile::view(const std::string& name) const {
  const auto& e = entry(name);
  torch::ScalarType type{};
  size_t elem = 0;
  safetensors_dtype_from_name(e.dtype, &type, &elem);
  if (e.nbytes == 0 || e.offset % elem != 0) return load(name);
  return mapped_tensor(file_, e.offset, e.shape, type);
}

PendingTensor pending(std::string name, torch::Tensor t) {
  auto shape = t.sizes().vec();
  const auto dtype = t.scalar_type();
  return {std::move(name), dtype, std::move(shape), [t = std::move(t)] { return t; }};
}

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<PendingTensor> all;
  all.reserve(tensors.size());
  for (const auto& [name, t] : tensors) all.push_back(pending(name, t.detach()));
  write_safetensors(path, all, metadata);
}

uint64_t data_bytes(const PendingTensor& t) {
  uint64_t n = c10::elementSize(t.dtype);
  for (auto d : t.shape) n *= static_cast<uint64_t>(d);
  return n;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<PendingTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (!names.insert(t.name).second)
      throw ArgumentError("write_safetensors: tensor name '" + t.name + "' given twice");
    const uint64_t n = data_bytes(t);
    header[t.name] = {{"dtype", safetensors_dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string h = header.dump();
  // The data section starts 8-aligned, as HF's writer pads the header with spaces.
  h.append((8 - h.size() % 8) % 8, ' ');
  AtomicFile out(path);
  const uint64_t len = h.size();
  out.write(&len, 8);
  out.write(h.data(), h.size());
  for (const auto& t : tensors) {
    const auto c = t.build().detach().to(torch::kCPU).contiguous();
    if (c.scalar_type() != t.dtype || c.sizes() != c10::IntArrayRef(t.shape))
      throw Error("write_safetensors: tensor '" + t.name + "' was built with another dtype or shape than declared");
    out.write(c.data_ptr(), c.nbytes());
    release_mapped_pages(c);  // a tensor of an opened checkpoint need not stay resident once written
  }
  out.commit();
}

}  // namespace qs::io
