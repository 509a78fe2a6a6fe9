#include "core/text/gguf_tokenizer_writer.h"

#include <cctype>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/text/gguf_vocab.h"
#include "core/text/tokenizer_json.h"

namespace qs::text {

namespace {

struct Vocabulary {
  std::vector<std::string> tokens;
  std::vector<int64_t> types;
};

// The tokens padded to the embedding's rows, added tokens typed as llama.cpp's converter types them.
Vocabulary padded_vocabulary(const TokenizerJson& t, const std::string& file, int64_t vocab_size) {
  const auto stored = static_cast<int64_t>(t.model.tokens.size());
  if (stored > vocab_size)
    throw ConfigError(
        file, "model.vocab",
        std::to_string(stored) + " tokens, more than the model's " + std::to_string(vocab_size) + " embedding rows");
  Vocabulary v{{t.model.tokens.begin(), t.model.tokens.end()},
               std::vector<int64_t>(static_cast<size_t>(vocab_size), kGgufNormal)};
  v.tokens.resize(static_cast<size_t>(vocab_size));
  for (size_t id = 0; id < v.tokens.size(); ++id)
    if (v.tokens[id].empty()) {
      v.tokens[id] = "[PAD" + std::to_string(id) + "]";
      v.types[id] = kGgufUnused;
    }
  for (const auto& a : t.added) v.types[static_cast<size_t>(a.id)] = a.special ? kGgufControl : kGgufUserDefined;
  return v;
}

void add_special_ids(const TokenizerJson& t, io::GgufWriter& w) {
  if (t.special.bos >= 0) w.add_uint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(t.special.bos));
  if (t.special.eos >= 0) w.add_uint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(t.special.eos));
  w.add_bool("tokenizer.ggml.add_bos_token", t.special.add_bos);
}

void add_byte_level(const TokenizerJson& t, const std::string& file, int64_t vocab_size, io::GgufWriter& w) {
  if (t.byte_level_prefix)
    throw ConfigError(file, "pre_tokenizer.add_prefix_space", "llama.cpp's byte-level tokenizers add no prefix space");
  const auto pre = gguf_pre_tokenizer_name({t.steps, t.model.ignore_merges});
  if (!pre)
    throw ConfigError(file, "pre_tokenizer",
                      "llama.cpp has no tokenizer.ggml.pre name for this pre-tokenizer (it knows GPT-2's, "
                      "SmolLM's, Llama-3's and Qwen2's)");
  const auto v = padded_vocabulary(t, file, vocab_size);
  std::vector<std::string> merges;
  for (const auto& [left, right] : t.model.merges_by_rank())
    merges.push_back(t.model.tokens[static_cast<size_t>(left)] + " " + t.model.tokens[static_cast<size_t>(right)]);
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", *pre);
  w.add_string_array("tokenizer.ggml.tokens", v.tokens);
  w.add_int_array("tokenizer.ggml.token_type", v.types);
  w.add_string_array("tokenizer.ggml.merges", merges);
  add_special_ids(t, w);
}

bool is_byte_token(const std::string& s) {
  return s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>' &&
         std::isxdigit(static_cast<unsigned char>(s[3])) && std::isxdigit(static_cast<unsigned char>(s[4]));
}

// Tokens no merge makes (single characters, bytes, added tokens) never win
// a merge in llama.cpp's SentencePiece tokenizer; they sit below every merge.
constexpr double kUnmerged = -1e9;

std::vector<std::string> add_sentencepiece(const TokenizerJson& t, const std::string& file, int64_t vocab_size,
                                           io::GgufWriter& w) {
  using Prefix = SentencePieceOptions::Prefix;
  const auto& o = t.sentencepiece;
  if (o.split)
    throw ConfigError(file, "pre_tokenizer.split",
                      "SentencePiece word splitting (Metaspace split) is not how llama.cpp tokenizes");
  if (!o.byte_fallback)
    throw ConfigError(file, "model.byte_fallback",
                      "llama.cpp's SentencePiece tokenizer falls back to <0xNN> bytes; this vocabulary does not");
  auto v = padded_vocabulary(t, file, vocab_size);
  std::vector<double> scores(v.tokens.size(), kUnmerged);
  const auto by_rank = t.model.merges_by_rank();
  for (size_t rank = 0; rank < by_rank.size(); ++rank) {
    const auto& [left, right] = by_rank[rank];
    const int32_t merged =
        t.model.find(t.model.tokens[static_cast<size_t>(left)] + t.model.tokens[static_cast<size_t>(right)]);
    if (merged >= 0 && scores[static_cast<size_t>(merged)] == kUnmerged)
      scores[static_cast<size_t>(merged)] = -static_cast<double>(rank);
  }
  for (size_t id = 0; id < t.model.tokens.size(); ++id)
    if (v.types[id] == kGgufNormal && is_byte_token(v.tokens[id])) v.types[id] = kGgufByte;
  if (t.model.unk_id >= 0) v.types[static_cast<size_t>(t.model.unk_id)] = kGgufUnknown;

  w.add_string("tokenizer.ggml.model", "llama");
  w.add_string_array("tokenizer.ggml.tokens", v.tokens);
  w.add_float_array("tokenizer.ggml.scores", scores);
  w.add_int_array("tokenizer.ggml.token_type", v.types);
  if (t.model.unk_id >= 0) w.add_uint32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(t.model.unk_id));
  w.add_bool("tokenizer.ggml.add_space_prefix", o.prefix != Prefix::kNone);
  add_special_ids(t, w);
  std::vector<std::string> notes;
  if (o.prefix == Prefix::kEverySegment || o.prefix == Prefix::kUnlessSpace)
    notes.push_back(
        file +
        " prepends \u2581 by its own rule (legacy Prepend normalizer or Metaspace 'always'); GGUF holds only "
        "add_space_prefix, which transformers reads as Metaspace 'first': text that starts with spaces "
        "or follows a special token may tokenize differently");
  return notes;
}

}  // namespace

std::vector<std::string> add_gguf_tokenizer(const std::filesystem::path& tokenizer_json, int64_t vocab_size,
                                            io::GgufWriter& w) {
  const std::string file = tokenizer_json.string();
  const TokenizerJson t = read_tokenizer_json(tokenizer_json);
  if (!t.byte_level) return add_sentencepiece(t, file, vocab_size, w);
  add_byte_level(t, file, vocab_size, w);
  return {};
}

}  // namespace qs::text
