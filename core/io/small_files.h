#pragma once
// Small files read whole and written atomically, and QuantScope's own
// versioned JSON records.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace qs::io {

// Throws qs::IoError naming the file.
std::string read_small_file(const std::filesystem::path& path);
void write_file_atomically(const std::filesystem::path& path, const std::string& bytes);

// A JSON object {"format": `format`, "format_version": N, ...} with N at most
// `max_version`. Throws qs::FormatError naming the file and field otherwise.
nlohmann::ordered_json read_versioned_json(const std::filesystem::path& path, const std::string& format,
                                           int max_version);

}  // namespace qs::io
