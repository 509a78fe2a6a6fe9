#pragma once
// SentencePiece-style BPE (Llama-2, Mistral): spaces become "▁", a "▁" may be
// prepended, symbols start as single characters, and characters missing from
// the vocabulary fall back to <0xNN> byte tokens.

#include <array>
#include <string_view>

#include "core/text/added_tokens.h"
#include "core/text/bpe_model.h"
#include "core/text/tokenizer.h"

namespace qs::text {

// U+2581 "▁", SentencePiece's stand-in for a space.
constexpr std::string_view kSentencePieceSpace = "\xE2\x96\x81";

struct SentencePieceOptions {
  // Which text segments (the text between added tokens) get a leading "▁".
  enum class Prefix {
    kNone,
    kFirstSegment,  // Metaspace prepend_scheme "first": only text at the start of the input
    kUnlessSpace,   // Metaspace "always": every segment not already starting with "▁"
    kEverySegment,  // normalizer Prepend("▁"), legacy Llama: every segment
  };
  Prefix prefix = Prefix::kFirstSegment;
  bool split = false;         // Metaspace split: a piece per "▁"-started word
  bool byte_fallback = true;  // unknown characters → <0xNN> tokens, else <unk>
  bool fuse_unk = true;       // consecutive <unk> become one
};

class SentencePieceBpe final : public Tokenizer {
 public:
  SentencePieceBpe(BpeModel model, AddedTokens added, SentencePieceOptions options, SpecialTokens special);

  std::vector<int32_t> encode(std::string_view utf8) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(model_.tokens.size()); }

 private:
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;

  BpeModel model_;
  AddedTokens added_;
  SentencePieceOptions options_;
  std::array<int32_t, 256> byte_ids_;  // id of <0xNN>, or -1
  std::vector<int16_t> byte_of_id_;    // id → NN for <0xNN> tokens, else -1
  mutable WordCache cache_;
};

}  // namespace qs::text
