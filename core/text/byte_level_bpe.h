#pragma once
// GPT-2-style byte-level BPE: the text is split by a pre-tokenizer regex, each
// piece's UTF-8 bytes become one symbol per byte (spelled with GPT-2's
// printable byte alphabet in the vocabulary), and merges join them by rank.

#include "core/text/added_tokens.h"
#include "core/text/bpe_model.h"
#include "core/text/pre_tokenizer.h"
#include "core/text/tokenizer.h"

#include <array>

namespace qs::text {

class ByteLevelBpe final : public Tokenizer {
 public:
  // `model.tokens` are spelled in the byte-level alphabet. `add_prefix_space`
  // puts a space before each text segment that does not start with one (HF
  // ByteLevel add_prefix_space).
  ByteLevelBpe(BpeModel model, AddedTokens added, PreTokenizer pre, bool add_prefix_space,
               SpecialTokens special);

  std::vector<int32_t> encode(std::string_view utf8) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(model_.tokens.size()); }

  // GPT-2's bytes_to_unicode(): the code point that spells byte `b`.
  static char32_t byte_to_code_point(uint8_t b);

 private:
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;

  BpeModel model_;
  AddedTokens added_;
  PreTokenizer pre_;
  bool add_prefix_space_;
  std::array<int32_t, 256> byte_ids_;   // id of each single-byte token, or -1
  std::vector<std::string> token_bytes_;  // id → the raw bytes it stands for
  mutable WordCache cache_;
};

}  // namespace qs::text
