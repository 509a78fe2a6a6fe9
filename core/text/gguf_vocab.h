#pragma once
// How a GGUF's tokenizer.ggml.* metadata is read: the token types and which of
// them are matched whole, and the byte-level pre-tokenizer tokenizer.ggml.pre
// names (as llama.cpp and the model's own tokenizer.json define it). Shared by
// the GGUF tokenizer loader and the tokenizer.json writer so the two cannot
// drift apart.

#include <cstdint>
#include <vector>

#include "core/text/pre_tokenizer.h"

namespace qs::io {
class GgufFile;
}

namespace qs::text {

// llama.cpp's tokenizer.ggml.token_type values that matter here; the others
// are 5 unused and 6 byte.
enum GgufTokenType : int64_t { kGgufNormal = 1, kGgufUnknown = 2, kGgufControl = 3, kGgufUserDefined = 4 };

// Control and user-defined tokens (and <unk>, which transformers registers as
// special) are matched whole in the text: HF's added tokens.
inline bool gguf_token_is_added(int64_t type) {
  return type == kGgufControl || type == kGgufUserDefined || type == kGgufUnknown;
}

struct GgufPreTokenizer {
  std::vector<PreTokenizer::Step> steps;
  bool ignore_merges = false;  // Llama-3-style vocabularies keep whole-word tokens
};

// Throws qs::ConfigError naming tokenizer.ggml.pre for a pre-tokenizer we do
// not implement.
GgufPreTokenizer gguf_pre_tokenizer(const io::GgufFile& gguf);

}  // namespace qs::text
