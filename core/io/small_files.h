#pragma once
// Small files read whole and written atomically, and QuantScope's own
// versioned JSON records.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace qs::io {

// The most a configuration or record file read whole may hold.
inline constexpr uint64_t kSmallFileLimit = uint64_t{64} << 20;

// Throws qs::IoError naming the file when it is not a regular file (a FIFO
// would block the open forever, /dev/zero never ends) or holds more than
// `max_bytes`, before opening it.
void check_readable_whole(const std::filesystem::path& path, uint64_t max_bytes);
// The file's bytes, after check_readable_whole. Throws qs::IoError naming the file.
std::string read_small_file(const std::filesystem::path& path, uint64_t max_bytes = kSmallFileLimit);
void write_file_atomically(const std::filesystem::path& path, const std::string& bytes);

// A JSON object {"format": `format`, "format_version": N, ...} with N at most
// `max_version`. Throws qs::FormatError naming the file and field otherwise.
nlohmann::ordered_json read_versioned_json(const std::filesystem::path& path, const std::string& format,
                                           int max_version);

}  // namespace qs::io
