#include "core/checkpoint/tokenizer_files.h"

#include <optional>

#include "core/error.h"
#include "core/io/gguf_file.h"
#include "core/io/gguf_metadata_copy.h"
#include "core/io/gguf_writer.h"
#include "core/io/small_files.h"
#include "core/text/tokenizer_json_writer.h"

namespace qs::checkpoint {
namespace fs = std::filesystem;

namespace {

// A tokenizer-only GGUF: the source's tokenizer metadata, none of its tensors
// (a model's GGUF taken as its tokenizer is as large as the model).
void write_tokenizer_gguf(const io::GgufFile& g, const fs::path& out) {
  io::GgufWriter w;
  // GGUF readers (transformers' gguf_file=, gguf-py) want the architecture
  // before they look at anything else, a tokenizer-only file included.
  io::copy_gguf_metadata(g, "general.architecture", w);
  if (io::copy_gguf_metadata(g, "tokenizer.", w) == 0)
    throw FormatError(g.path().string(), "tokenizer.*", "the GGUF has no tokenizer metadata to copy");
  w.write(out);
}

}  // namespace

void copy_tokenizer_files(const fs::path& source, const fs::path& dir) {
  std::error_code ec;
  if (fs::is_regular_file(source, ec) && source.extension() == ".gguf") {
    io::GgufFile g(source);
    write_tokenizer_gguf(g, dir / "tokenizer.gguf");
    std::optional<text::HfTokenizerFiles> hf;
    try {
      hf = text::hf_tokenizer_files_from_gguf(g);
    } catch (const ConfigError&) {
      // A vocabulary we do not tokenize still travels, as tokenizer.gguf.
    }
    if (hf) {
      io::write_file_atomically(dir / "tokenizer.json", hf->tokenizer_json);
      io::write_file_atomically(dir / "tokenizer_config.json", hf->tokenizer_config_json);
    }
    return;
  }
  const fs::path from = fs::is_directory(source, ec) ? source : source.parent_path();
  bool any = false;
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                           "generation_config.json", "tokenizer.gguf"}) {
    if (!fs::is_regular_file(from / name, ec)) continue;
    if (std::string(name) == "tokenizer.gguf")
      write_tokenizer_gguf(io::GgufFile(from / name), dir / name);
    else
      io::write_file_atomically(dir / name, io::read_small_file(from / name));
    any = true;
  }
  if (!any) throw IoError(from.string(), "no tokenizer.json or tokenizer.gguf to copy next to the checkpoint");
}

}  // namespace qs::checkpoint
