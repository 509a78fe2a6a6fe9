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

#include <algorithm>

namespace qs::text {

namespace {

struct Merge {
  int32_t left, right, merged;
  double score;
  size_t left_len, right_len;  // in code points
};

// transformers' generate_merges(vocab, scores): every split of a token into two
// tokens is a merge; better scores first, then longer left and right parts,
// then token order.
void merges_from_scores(const std::vector<std::string>& tokens, const std::vector<double>& scores,
                        BpeModel& model) {
  std::vector<Merge> merges;
  std::vector<char32_t> cps;
  std::vector<uint32_t> offsets;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string& t = tokens[id];
    if (model.find(t) != static_cast<int32_t>(id)) continue;  // a later id spells it too
    decode_utf8(t, cps, &offsets);
    const size_t first = merges.size();
    for (size_t k = 1; k < cps.size(); ++k) {
      const int32_t l = model.find(std::string_view(t).substr(0, offsets[k]));
      const int32_t r = model.find(std::string_view(t).substr(offsets[k]));
      if (l >= 0 && r >= 0) merges.push_back({l, r, static_cast<int32_t>(id), scores[id], k, cps.size() - k});
    }
    std::sort(merges.begin() + static_cast<ptrdiff_t>(first), merges.end(), [](const Merge& a, const Merge& b) {
      return a.left != b.left ? a.left < b.left : a.right < b.right;
    });
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.left_len != b.left_len) return a.left_len > b.left_len;
    return a.right_len > b.right_len;
  });
  for (size_t i = 0; i < merges.size(); ++i)
    model.add_merge(merges[i].left, merges[i].right, merges[i].merged, static_cast<int32_t>(i));
}

void merges_from_list(const io::GgufFile& g, BpeModel& model) {
  const std::string key = "tokenizer.ggml.merges";
  const auto merges = g.get_string_array(key);
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string field = key + "[" + std::to_string(i) + "]";
    const std::string& s = merges[i];
    const size_t sp = s.find(' ');
    if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
      throw FormatError(g.path().string(), field, "expected two tokens separated by one space, found '" + s + "'");
    const std::string left = s.substr(0, sp), right = s.substr(sp + 1);
    const int32_t l = model.find(left), r = model.find(right), lr = model.find(left + right);
    if (l < 0 || r < 0 || lr < 0)
      throw FormatError(g.path().string(), field,
                        "'" + (l < 0 ? left : r < 0 ? right : left + right) + "' is not in tokenizer.ggml.tokens");
    model.add_merge(l, r, lr, static_cast<int32_t>(i));
  }
}

}  // namespace

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

  if (type == "gpt2") {
    require("tokenizer.ggml.merges");
    merges_from_list(g, model);
    GgufPreTokenizer pre = gguf_pre_tokenizer(g);
    model.ignore_merges = pre.ignore_merges;
    return std::make_unique<ByteLevelBpe>(std::move(model), AddedTokens(std::move(added)),
                                          PreTokenizer(std::move(pre.steps)), false, special);
  }
  if (g.has("tokenizer.ggml.merges")) {
    merges_from_list(g, model);
  } else {
    if (!g.has("tokenizer.ggml.scores"))
      throw FormatError(file, "tokenizer.ggml.scores", "missing, and there is no tokenizer.ggml.merges either");
    const auto scores = g.get_float_array("tokenizer.ggml.scores");
    if (scores.size() != n)
      throw FormatError(file, "tokenizer.ggml.scores",
                        std::to_string(scores.size()) + " entries for " + std::to_string(n) + " tokens");
    merges_from_scores(model.tokens, scores, model);
  }
  SentencePieceOptions opt;
  const bool prefix = g.has("tokenizer.ggml.add_space_prefix") ? g.get_bool("tokenizer.ggml.add_space_prefix") : true;
  opt.prefix = prefix ? SentencePieceOptions::Prefix::kFirstSegment : SentencePieceOptions::Prefix::kNone;
  return std::make_unique<SentencePieceBpe>(std::move(model), AddedTokens(std::move(added)), opt, special);
}

}  // namespace qs::text
