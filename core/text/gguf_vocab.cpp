#include "core/text/gguf_vocab.h"

#include <algorithm>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/io/gguf_file.h"
#include "core/text/unicode.h"

namespace qs::text {
namespace {

struct ScoredMerge {
  GgufMerge merge;
  double score;
  size_t left_len, right_len;  // in code points
};

std::vector<GgufMerge> merges_from_scores(const std::vector<std::string>& tokens, const std::vector<double>& scores,
                                          const BpeModel& vocabulary) {
  std::vector<ScoredMerge> merges;
  std::vector<char32_t> cps;
  std::vector<uint32_t> offsets;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string& t = tokens[id];
    if (vocabulary.find(t) != static_cast<int32_t>(id)) continue;  // a later id spells it too
    decode_utf8(t, cps, &offsets);
    const size_t first = merges.size();
    for (size_t k = 1; k < cps.size(); ++k) {
      const int32_t l = vocabulary.find(std::string_view(t).substr(0, offsets[k]));
      const int32_t r = vocabulary.find(std::string_view(t).substr(offsets[k]));
      if (l >= 0 && r >= 0) merges.push_back({{l, r, static_cast<int32_t>(id)}, scores[id], k, cps.size() - k});
    }
    std::sort(merges.begin() + static_cast<ptrdiff_t>(first), merges.end(), [](const auto& a, const auto& b) {
      return a.merge.left != b.merge.left ? a.merge.left < b.merge.left : a.merge.right < b.merge.right;
    });
  }
  std::stable_sort(merges.begin(), merges.end(), [](const auto& a, const auto& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.left_len != b.left_len) return a.left_len > b.left_len;
    return a.right_len > b.right_len;
  });
  std::vector<GgufMerge> out;
  out.reserve(merges.size());
  for (const auto& m : merges) out.push_back(m.merge);
  return out;
}

std::vector<GgufMerge> merges_from_list(const io::GgufFile& g, const BpeModel& vocabulary) {
  const std::string key = "tokenizer.ggml.merges";
  const auto merges = g.get_string_array(key);
  std::vector<GgufMerge> out;
  out.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string field = key + "[" + std::to_string(i) + "]";
    const std::string& s = merges[i];
    const size_t sp = s.find(' ');
    if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
      throw FormatError(g.path().string(), field, "expected two tokens separated by one space, found '" + s + "'");
    const std::string left = s.substr(0, sp), right = s.substr(sp + 1);
    const int32_t l = vocabulary.find(left), r = vocabulary.find(right), lr = vocabulary.find(left + right);
    if (l < 0 || r < 0 || lr < 0)
      throw FormatError(g.path().string(), field,
                        "'" +
                            (l < 0   ? left
                             : r < 0 ? right
                                     : left + right) +
                            "' is not in tokenizer.ggml.tokens");
    out.push_back({l, r, lr});
  }
  return out;
}

}  // namespace

namespace {

// The byte-level pre-tokenizer llama.cpp's tokenizer.ggml.pre name stands for
// (as the model's own tokenizer.json defines it), or nullopt.
std::optional<GgufPreTokenizer> pre_tokenizer_named(const std::string& pre) {
  using Step = PreTokenizer::Step;
  const Step gpt2{Step::Kind::kRegex, SplitPattern::kGpt2};
  if (pre == "default" || pre == "gpt-2" || pre == "gpt2") return GgufPreTokenizer{{gpt2}};
  // SmolLM's tokenizer.json isolates every digit before GPT-2's regex.
  if (pre == "smollm") return GgufPreTokenizer{{{Step::Kind::kDigits, SplitPattern::kGpt2, true}, gpt2}};
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" || pre == "smaug-bpe" ||
      pre == "dbrx")
    return GgufPreTokenizer{{{Step::Kind::kRegex, SplitPattern::kLlama3}}, true};
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") return GgufPreTokenizer{{{Step::Kind::kRegex, SplitPattern::kQwen2}}};
  return std::nullopt;
}

bool same_step(const PreTokenizer::Step& a, const PreTokenizer::Step& b) {
  if (a.kind != b.kind) return false;
  return a.kind == PreTokenizer::Step::Kind::kRegex ? a.pattern == b.pattern
                                                     : a.individual_digits == b.individual_digits;
}

}  // namespace

GgufPreTokenizer gguf_pre_tokenizer(const io::GgufFile& g) {
  const std::string key = "tokenizer.ggml.pre";
  const std::string pre = g.has(key) ? g.get_string(key) : "default";
  if (auto p = pre_tokenizer_named(pre)) return *p;
  throw ConfigError(g.path().string(), key,
                    "pre-tokenizer '" + pre + "' is not supported (default, gpt2, smollm, llama3, qwen2)");
}

std::optional<std::string> gguf_pre_tokenizer_name(const GgufPreTokenizer& pre) {
  for (const char* name : {"gpt-2", "smollm", "llama-bpe", "qwen2"}) {
    const auto p = pre_tokenizer_named(name);
    if (p->ignore_merges == pre.ignore_merges && p->steps.size() == pre.steps.size() &&
        std::equal(p->steps.begin(), p->steps.end(), pre.steps.begin(), same_step))
      return name;
  }
  return std::nullopt;
}

std::vector<GgufMerge> gguf_merges(const io::GgufFile& g, const BpeModel& vocabulary) {
  if (g.has("tokenizer.ggml.merges")) return merges_from_list(g, vocabulary);
  const std::string key = "tokenizer.ggml.scores";
  if (!g.has(key)) throw FormatError(g.path().string(), key, "missing, and there is no tokenizer.ggml.merges either");
  const auto scores = g.get_float_array(key);
  if (scores.size() != vocabulary.tokens.size())
    throw FormatError(
        g.path().string(), key,
        std::to_string(scores.size()) + " entries for " + std::to_string(vocabulary.tokens.size()) + " tokens");
  return merges_from_scores(vocabulary.tokens, scores, vocabulary);
}

}  // namespace qs::text
