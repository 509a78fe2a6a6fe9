#pragma once
// How a GGUF's tokenizer.ggml.* metadata is read: the token types and which of
// them are matched whole, and the byte-level pre-tokenizer tokenizer.ggml.pre
// names (as llama.cpp and the model's own tokenizer.json define it). Shared by
// the GGUF tokenizer loader and the tokenizer.json writer so the two cannot
// drift apart.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/text/bpe_model.h"
#include "core/text/pre_tokenizer.h"

namespace qs::io {
class GgufFile;
}

namespace qs::text {

// llama.cpp's tokenizer.ggml.token_type values.
enum GgufTokenType : int64_t {
  kGgufNormal = 1,
  kGgufUnknown = 2,
  kGgufControl = 3,
  kGgufUserDefined = 4,
  kGgufUnused = 5,
  kGgufByte = 6  // SentencePiece's <0xNN> fallback tokens
};

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
// The tokenizer.ggml.pre name that reads back as `pre`, or nullopt when
// llama.cpp has none for it.
std::optional<std::string> gguf_pre_tokenizer_name(const GgufPreTokenizer& pre);

struct GgufMerge {
  int32_t left, right, merged;  // token ids
};

// The vocabulary's merges, first merged first, by the ids `vocabulary` finds:
// tokenizer.ggml.merges when the file has them, else (SentencePiece
// vocabularies) those transformers' generate_merges derives from
// tokenizer.ggml.scores: every split of a token into two tokens, better scores
// first, then longer left and right parts, then token order. Throws
// qs::FormatError naming the key (and entry) that is missing or malformed.
std::vector<GgufMerge> gguf_merges(const io::GgufFile& gguf, const BpeModel& vocabulary);

}  // namespace qs::text
