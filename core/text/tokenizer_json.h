#pragma once
// An HF tokenizer.json (with the tokenizer_config.json beside it) read and
// checked: what load_tokenizer_json builds a Tokenizer from, and what the
// GGUF tokenizer writer converts, so both accept exactly the same files.

#include <filesystem>
#include <vector>

#include "core/text/added_tokens.h"
#include "core/text/bpe_model.h"
#include "core/text/pre_tokenizer.h"
#include "core/text/sentencepiece_bpe.h"
#include "core/text/tokenizer.h"

namespace qs::text {

struct TokenizerJson {
  BpeModel model;  // vocabulary and merges
  std::vector<AddedToken> added;
  SpecialTokens special;
  bool byte_level = false;         // else SentencePiece-style
  bool byte_level_prefix = false;  // ByteLevel's add_prefix_space
  std::vector<PreTokenizer::Step> steps;
  SentencePieceOptions sentencepiece;  // when not byte-level
};

// Throws what load_tokenizer_json throws (see tokenizer.h).
TokenizerJson read_tokenizer_json(const std::filesystem::path& path);

}  // namespace qs::text
