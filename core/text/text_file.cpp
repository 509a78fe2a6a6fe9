#include "core/text/text_file.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/io/small_files.h"
#include "core/io/utf8.h"

namespace qs::text {

std::string read_text_file(const std::filesystem::path& path) {
  io::check_readable_whole(path, uint64_t{4} << 30);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string(), "cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (auto bad = io::first_invalid_utf8(s)) throw FormatError(path.string(), "text", "invalid UTF-8", *bad);
  return s;
}

std::string join_rows_hf(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    const bool has_newline = end != std::string::npos;
    if (!has_newline) end = text.size();
    std::string row = text.substr(pos, end - pos);
    if (!row.empty() && row.back() == '\r') row.pop_back();
    const bool blank = row.find_first_not_of(" \t\r\f\v") == std::string::npos;
    if (!first) out += "\n\n";
    first = false;
    if (!blank) out += row + (has_newline ? "\n" : "");
    pos = end + 1;
  }
  return out;
}

}  // namespace qs::text
