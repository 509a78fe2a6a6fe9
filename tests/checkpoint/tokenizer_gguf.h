#pragma once
// A tokenizer-only GGUF, as a QuantScope checkpoint of a GGUF model holds: the
// tokenizer source a GGUF export needs.

#include <filesystem>
#include <string>
#include <vector>

#include "core/io/gguf_writer.h"

namespace qs::test {

inline std::filesystem::path write_tokenizer_gguf(const std::filesystem::path& dir, int64_t vocab) {
  io::GgufWriter w;
  w.add_string("tokenizer.ggml.model", "gpt2");
  std::vector<std::string> tokens;
  for (int64_t i = 0; i < vocab; ++i) tokens.push_back("tok" + std::to_string(i));
  w.add_string_array("tokenizer.ggml.tokens", tokens);
  w.add_string_array("tokenizer.ggml.merges", {});
  w.add_uint32("tokenizer.ggml.bos_token_id", 1);
  w.write(dir / "tokenizer.gguf");
  return dir / "tokenizer.gguf";
}

}  // namespace qs::test
