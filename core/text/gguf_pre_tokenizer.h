#pragma once
// The byte-level pre-tokenizer a GGUF's tokenizer.ggml.pre names, as llama.cpp
// and the model's own tokenizer.json define it. Shared by the GGUF tokenizer
// loader and the tokenizer.json writer so the two cannot drift apart.

#include <vector>

#include "core/text/pre_tokenizer.h"

namespace qs::io {
class GgufFile;
}

namespace qs::text {

struct GgufPreTokenizer {
  std::vector<PreTokenizer::Step> steps;
  bool ignore_merges = false;  // Llama-3-style vocabularies keep whole-word tokens
};

// Throws qs::ConfigError naming tokenizer.ggml.pre for a pre-tokenizer we do
// not implement.
GgufPreTokenizer gguf_pre_tokenizer(const io::GgufFile& gguf);

}  // namespace qs::text
