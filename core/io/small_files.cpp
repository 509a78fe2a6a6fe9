#include "core/io/json_error.h"
#include "core/io/small_files.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/io/atomic_file.h"

namespace qs::io {
namespace fs = std::filesystem;

void check_readable_whole(const fs::path& path, uint64_t max_bytes) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec) throw IoError(path.string(), "cannot open: " + ec.message());
  if (!fs::is_regular_file(status))
    throw IoError(path.string(), fs::is_directory(status) ? "is a directory, not a file"
                                                          : "is not a regular file (a FIFO, socket or device); "
                                                            "QuantScope reads it whole, so it must be a plain file");
  const uint64_t size = fs::file_size(path, ec);
  if (ec) throw IoError(path.string(), "cannot read its size: " + ec.message());
  if (size > max_bytes)
    throw IoError(path.string(), "is " + std::to_string(size) + " bytes, more than the " + std::to_string(max_bytes) +
                                     " a file of this kind may hold");
}

std::string read_small_file(const fs::path& path, uint64_t max_bytes) {
  check_readable_whole(path, max_bytes);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string(), "cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file_atomically(const fs::path& path, const std::string& bytes) {
  AtomicFile f(path);
  f.write(bytes.data(), bytes.size());
  f.commit();
}

nlohmann::ordered_json read_versioned_json(const fs::path& path, const std::string& format, int max_version) {
  const std::string file = path.string();
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(read_small_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(file, "(document)", std::string("invalid JSON: ") + e.what(), io::json_error_offset(e));
  }
  if (!doc.is_object() || doc.value("format", "") != format)
    throw FormatError(file, "format", "not \"" + format + "\"");
  if (!doc.contains("format_version") || !doc["format_version"].is_number_integer())
    throw FormatError(file, "format_version", "missing or not an integer");
  if (const auto v = doc["format_version"].get<int64_t>(); v > max_version)
    throw FormatError(file, "format_version",
                      std::to_string(v) + " is newer than this QuantScope reads (" + std::to_string(max_version) + ")");
  return doc;
}

}  // namespace qs::io
