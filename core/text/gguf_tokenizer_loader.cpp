// Builds a tokenizer from a GGUF file's tokenizer.ggml.* metadata, the way
// transformers' GGUF loader does (our reference for ids), except that the
// pre-tokenizer named by tokenizer.ggml.pre is honoured for SmolLM as its own
// tokenizer.json does and llama.cpp does.

#include "core/error.h"
#include "core/io/gguf_file.h"
#include "core/text/byte_level_bpe.h"
#include "core/text/gguf_vocab.h"
#include "core/text/sentencepiece_bpe.h"
#include "core/text/tokenizer.h"
#include "core/text/unicode.h"

namespace qs::text {

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const io::GgufFile& g) {
  const std::string file = g.path().string();
  auto require = [&](const std::string& key) {
    if (!g.has(key)) throw FormatError(file, key, "missing");
  };
  require("tokenizer.ggml.model");
  const std::string type = g.get_string("tokenizer.ggml.model");
  if (type != "gpt2" && type != "llama")
    throw ConfigError(file, "tokenizer.ggml.model", "tokenizer model '" + type + "' is not supported (gpt2, llama)");

  require("tokenizer.ggml.tokens");
  BpeModel model;
  model.tokens = g.get_string_array("tokenizer.ggml.tokens");
  const size_t n = model.tokens.size();
  if (n == 0) throw FormatError(file, "tokenizer.ggml.tokens", "empty vocabulary");
  std::vector<char32_t> cps;
  for (size_t i = 0; i < n; ++i) {
    if (size_t bad = decode_utf8(model.tokens[i], cps); bad != std::string_view::npos)
      throw FormatError(file, "tokenizer.ggml.tokens[" + std::to_string(i) + "]",
                        "invalid UTF-8 at byte " + std::to_string(bad) + " of the token");
    model.add_token(model.tokens[i], static_cast<int32_t>(i));
  }
  std::vector<int64_t> types(n, kGgufNormal);
  if (g.has("tokenizer.ggml.token_type")) {
    types = g.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != n)
      throw FormatError(file, "tokenizer.ggml.token_type",
                        std::to_string(types.size()) + " entries for " + std::to_string(n) + " tokens");
  }
  auto token_id = [&](const std::string& key) -> int32_t {
    if (!g.has(key)) return -1;
    const int64_t id = g.get_int(key);
    if (id < 0 || static_cast<size_t>(id) >= n)
      throw FormatError(file, key, "token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(n));
    return static_cast<int32_t>(id);
  };
  SpecialTokens special;
  special.bos = token_id("tokenizer.ggml.bos_token_id");
  special.eos = token_id("tokenizer.ggml.eos_token_id");
  model.unk_id = token_id("tokenizer.ggml.unknown_token_id");
  // llama.cpp adds BOS for SentencePiece vocabularies that do not say otherwise.
  special.add_bos = g.has("tokenizer.ggml.add_bos_token") ? g.get_bool("tokenizer.ggml.add_bos_token")
                                                          : type == "llama";

  std::vector<AddedToken> added;
  for (size_t i = 0; i < n; ++i)
    if (gguf_token_is_added(types[i]))
      added.push_back({model.tokens[i], static_cast<int32_t>(i)});

  if (type == "gpt2") require("tokenizer.ggml.merges");
  const auto merges = gguf_merges(g, model);
  for (size_t i = 0; i < merges.size(); ++i)
    model.add_merge(merges[i].left, merges[i].right, merges[i].merged, static_cast<int32_t>(i));
  if (type == "gpt2") {
    GgufPreTokenizer pre = gguf_pre_tokenizer(g);
    model.ignore_merges = pre.ignore_merges;
    return std::make_unique<ByteLevelBpe>(std::move(model), AddedTokens(std::move(added)),
                                          PreTokenizer(std::move(pre.steps)), false, special);
  }
  SentencePieceOptions opt;
  const bool prefix = g.has("tokenizer.ggml.add_space_prefix") ? g.get_bool("tokenizer.ggml.add_space_prefix") : true;
  opt.prefix = prefix ? SentencePieceOptions::Prefix::kFirstSegment : SentencePieceOptions::Prefix::kNone;
  return std::make_unique<SentencePieceBpe>(std::move(model), AddedTokens(std::move(added)), opt, special);
}

}  // namespace qs::text
