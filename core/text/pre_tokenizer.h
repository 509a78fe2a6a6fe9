#pragma once
// Splits text into the pieces BPE merges within, as HF tokenizers' pre-tokenizers
// do. The regexes are written by hand: std::regex has no \p{L} and is slow, and
// each pattern is a few lines of scanning once its backtracking is worked out.

#include <cstdint>
#include <string_view>
#include <vector>

namespace qs::text {

// The split regexes we know, by the HF pattern text they replace.
enum class SplitPattern {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
  // | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kLlama3,
  // As kLlama3 with \p{N} instead of \p{N}{1,3}.
  kQwen2,
};

// kGpt2 etc. for an HF Split regex, or false when the pattern is not one we know.
bool split_pattern_from_regex(std::string_view regex, SplitPattern& out);
// The HF regex text of `pattern`, as a tokenizer.json Split writes it.
std::string_view split_pattern_regex(SplitPattern pattern);

class PreTokenizer {
 public:
  // One pre-tokenizer of an HF Sequence, applied to every piece the previous one made.
  struct Step {
    enum class Kind { kRegex, kDigits } kind;
    SplitPattern pattern = SplitPattern::kGpt2;  // kRegex
    bool individual_digits = false;              // kDigits: one piece per digit, else per run
  };

  PreTokenizer() = default;
  explicit PreTokenizer(std::vector<Step> steps) : steps_(std::move(steps)) {}

  // Splits `cps` (the code points of one text segment between added tokens) and
  // appends each piece as a half-open code point range [first, second). Every
  // code point lands in exactly one piece, in order.
  void split(const std::vector<char32_t>& cps,
             std::vector<std::pair<uint32_t, uint32_t>>& pieces) const;

 private:
  void split_range(const std::vector<char32_t>& cps, uint32_t begin, uint32_t end, size_t step,
                   std::vector<std::pair<uint32_t, uint32_t>>& pieces) const;

  std::vector<Step> steps_;
};

}  // namespace qs::text
