#include "core/text/tokenizer.h"

#include "core/error.h"
#include "core/io/gguf_file.h"

namespace qs::text {
namespace fs = std::filesystem;

fs::path tokenizer_source(const fs::path& model_path) {
  return model_path.extension() == ".safetensors" ? model_path.parent_path() : model_path;
}

std::vector<fs::path> tokenizer_files(const fs::path& model_path) {
  const fs::path source = tokenizer_source(model_path);
  std::error_code ec;
  const auto with_config = [&ec](const fs::path& json) {
    std::vector<fs::path> files{json};
    if (const auto config = json.parent_path() / "tokenizer_config.json"; fs::is_regular_file(config, ec))
      files.push_back(config);
    return files;
  };
  if (fs::is_directory(source, ec)) {
    if (const fs::path json = source / "tokenizer.json"; fs::is_regular_file(json, ec)) return with_config(json);
    // QuantScope checkpoints made from a GGUF keep its tokenizer metadata so.
    if (const fs::path gguf = source / "tokenizer.gguf"; fs::is_regular_file(gguf, ec)) return {gguf};
    throw IoError(source.string(), "model directory has no tokenizer.json or tokenizer.gguf");
  }
  if (!fs::exists(source, ec)) throw IoError(source.string(), "no such file or directory");
  if (source.extension() == ".gguf") return {source};
  if (source.extension() == ".json") return with_config(source);
  throw IoError(source.string(), "not a .gguf file, a tokenizer.json or a model directory");
}

std::unique_ptr<Tokenizer> load_tokenizer_for_model(const fs::path& model_path) {
  const fs::path file = tokenizer_files(model_path).front();
  if (file.extension() == ".gguf") return load_gguf_tokenizer(io::GgufFile(file));
  return load_tokenizer_json(file);
}

}  // namespace qs::text
