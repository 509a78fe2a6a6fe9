#include "core/text/pre_tokenizer.h"

#include "core/text/unicode.h"

namespace qs::text {

namespace {

constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// The matchers below return the length of the regex's match at `i` within
// [i, end), where `end` plays the role of the end of text (HF runs the regex on
// each piece alone). Every pattern ends in \s+ after alternatives covering
// letters, numbers and everything else, so the match is never empty.
struct Scanner {
  const std::vector<char32_t>& c;
  uint32_t end;

  CharClass cls(uint32_t i) const { return char_class(c[i]); }
  bool is(uint32_t i, CharClass k) const { return i < end && cls(i) == k; }
  bool is_other(uint32_t i) const { return i < end && cls(i) == CharClass::kOther; }
  bool is_newline(uint32_t i) const { return i < end && (c[i] == '\r' || c[i] == '\n'); }
  uint32_t run(uint32_t i, CharClass k) const {
    while (i < end && cls(i) == k) ++i;
    return i;
  }

  // 's 't 're 've 'm 'll 'd, optionally ignoring ASCII case.
  uint32_t contraction(uint32_t i, bool ignore_case) const {
    if (c[i] != '\'' || i + 1 >= end) return 0;
    auto lower = [&](uint32_t k) -> char32_t {
      char32_t ch = c[k];
      return ignore_case && ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
    };
    const char32_t a = lower(i + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 >= end) return 0;
    const char32_t b = lower(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
  }

  // \s+(?!\S)|\s+ at a whitespace character: a run followed by a non-space gives
  // its last character to the next piece (so " word" stays together), unless
  // that would leave nothing.
  uint32_t trailing_space(uint32_t i) const {
    const uint32_t k = run(i, CharClass::kWhitespace);
    if (k == end || k - i == 1) return k - i;
    return k - i - 1;
  }

  uint32_t gpt2(uint32_t i) const {
    if (uint32_t n = contraction(i, false)) return n;
    const uint32_t j = c[i] == ' ' ? i + 1 : i;
    if (is(j, CharClass::kLetter)) return run(j, CharClass::kLetter) - i;
    if (is(j, CharClass::kNumber)) return run(j, CharClass::kNumber) - i;
    if (is_other(j)) return run(j, CharClass::kOther) - i;
    return trailing_space(i);
  }

  uint32_t llama3(uint32_t i, uint32_t max_digits) const {
    if (uint32_t n = contraction(i, true)) return n;
    const CharClass k = cls(i);
    if (k == CharClass::kLetter) return run(i, CharClass::kLetter) - i;
    // [^\r\n\p{L}\p{N}]?\p{L}+ : one leading space or symbol joins the word.
    if (k != CharClass::kNumber && !is_newline(i) && is(i + 1, CharClass::kLetter))
      return run(i + 1, CharClass::kLetter) - i;
    if (k == CharClass::kNumber) {
      uint32_t j = i;
      while (j < end && j - i < max_digits && cls(j) == CharClass::kNumber) ++j;
      return j - i;
    }
    const uint32_t j = c[i] == ' ' ? i + 1 : i;
    if (is_other(j)) {
      uint32_t e = run(j, CharClass::kOther);
      while (is_newline(e)) ++e;
      return e - i;
    }
    // \s*[\r\n]+ : backtracking leaves the match ending just after the last
    // newline of the whitespace run.
    const uint32_t k_end = run(i, CharClass::kWhitespace);
    for (uint32_t e = k_end; e > i; --e)
      if (is_newline(e - 1)) return e - i;
    return trailing_space(i);
  }

  uint32_t match(SplitPattern p, uint32_t i) const {
    switch (p) {
      case SplitPattern::kGpt2: return gpt2(i);
      case SplitPattern::kLlama3: return llama3(i, 3);
      case SplitPattern::kQwen2: return llama3(i, 1);
    }
    return 1;
  }
};

}  // namespace

bool split_pattern_from_regex(std::string_view regex, SplitPattern& out) {
  if (regex == kGpt2Regex) out = SplitPattern::kGpt2;
  else if (regex == kLlama3Regex) out = SplitPattern::kLlama3;
  else if (regex == kQwen2Regex) out = SplitPattern::kQwen2;
  else return false;
  return true;
}

std::string_view split_pattern_regex(SplitPattern pattern) {
  switch (pattern) {
    case SplitPattern::kGpt2: return kGpt2Regex;
    case SplitPattern::kLlama3: return kLlama3Regex;
    case SplitPattern::kQwen2: return kQwen2Regex;
  }
  return kGpt2Regex;
}

void PreTokenizer::split(const std::vector<char32_t>& cps,
                         std::vector<std::pair<uint32_t, uint32_t>>& pieces) const {
  if (!cps.empty()) split_range(cps, 0, static_cast<uint32_t>(cps.size()), 0, pieces);
}

void PreTokenizer::split_range(const std::vector<char32_t>& cps, uint32_t begin, uint32_t end,
                               size_t step, std::vector<std::pair<uint32_t, uint32_t>>& pieces) const {
  if (step == steps_.size()) {
    pieces.emplace_back(begin, end);
    return;
  }
  const Step& s = steps_[step];
  if (s.kind == Step::Kind::kRegex) {
    const Scanner scan{cps, end};
    for (uint32_t i = begin; i < end;) {
      const uint32_t n = scan.match(s.pattern, i);
      split_range(cps, i, i + n, step + 1, pieces);
      i += n;
    }
    return;
  }
  // Digits: numbers are isolated (each alone, or each run), the text between
  // them is one piece.
  uint32_t i = begin;
  while (i < end) {
    uint32_t j = i;
    if (char_class(cps[i]) == CharClass::kNumber) {
      ++j;
      if (!s.individual_digits)
        while (j < end && char_class(cps[j]) == CharClass::kNumber) ++j;
    } else {
      while (j < end && char_class(cps[j]) != CharClass::kNumber) ++j;
    }
    split_range(cps, i, j, step + 1, pieces);
    i = j;
  }
}

}  // namespace qs::text
