#include "core/text/tokenizer.h"

#include "core/error.h"
#include "core/io/gguf_file.h"

namespace qs::text {

std::unique_ptr<Tokenizer> load_tokenizer_for_model(const std::filesystem::path& model_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(model_path, ec)) {
    const fs::path json = model_path / "tokenizer.json";
    if (fs::is_regular_file(json, ec)) return load_tokenizer_json(json);
    // QuantScope checkpoints made from a GGUF keep its tokenizer metadata so.
    const fs::path gguf = model_path / "tokenizer.gguf";
    if (fs::is_regular_file(gguf, ec)) return load_gguf_tokenizer(io::GgufFile(gguf));
    throw IoError(model_path.string(), "model directory has no tokenizer.json or tokenizer.gguf");
  }
  if (!fs::exists(model_path, ec)) throw IoError(model_path.string(), "no such file or directory");
  if (model_path.extension() == ".gguf") return load_gguf_tokenizer(io::GgufFile(model_path));
  if (model_path.extension() == ".json") return load_tokenizer_json(model_path);
  throw IoError(model_path.string(), "not a .gguf file, a tokenizer.json or a model directory");
}

}  // namespace qs::text
