#include "core/io/checkpoint_files.h"

#include <fstream>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/gguf_file.h"
#include "core/io/gguf_metadata_copy.h"
#include "core/io/gguf_writer.h"
#include "core/text/tokenizer_json_writer.h"

namespace qs::io {
namespace fs = std::filesystem;

std::string read_small_file(const fs::path& path) {
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
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(file, "(document)", std::string("invalid JSON: ") + e.what(), e.byte);
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

void copy_tokenizer_files(const fs::path& source, const fs::path& dir) {
  std::error_code ec;
  if (fs::is_regular_file(source, ec) && source.extension() == ".gguf") {
    GgufFile g(source);
    GgufWriter w;
    // GGUF readers (transformers' gguf_file=, gguf-py) want the architecture
    // before they look at anything else, a tokenizer-only file included.
    copy_gguf_metadata(g, "general.architecture", w);
    if (copy_gguf_metadata(g, "tokenizer.", w) == 0)
      throw FormatError(source.string(), "tokenizer.*", "the GGUF has no tokenizer metadata to copy");
    w.write(dir / "tokenizer.gguf");
    std::optional<text::HfTokenizerFiles> hf;
    try {
      hf = text::hf_tokenizer_files_from_gguf(g);
    } catch (const ConfigError&) {
      // A vocabulary we do not tokenize still travels, as tokenizer.gguf.
    }
    if (hf) {
      write_file_atomically(dir / "tokenizer.json", hf->tokenizer_json);
      write_file_atomically(dir / "tokenizer_config.json", hf->tokenizer_config_json);
    }
    return;
  }
  const fs::path from = fs::is_directory(source, ec) ? source : source.parent_path();
  bool any = false;
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                           "generation_config.json", "tokenizer.gguf"}) {
    if (!fs::is_regular_file(from / name, ec)) continue;
    write_file_atomically(dir / name, read_small_file(from / name));
    any = true;
  }
  if (!any) throw IoError(from.string(), "no tokenizer.json or tokenizer.gguf to copy next to the checkpoint");
}

}  // namespace qs::io
