#pragma once
// The little Unicode the tokenizers need: UTF-8 decoding and encoding, and the
// three character classes the pre-tokenizer regexes use (\p{L}, \p{N}, \s).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qs::text {

enum class CharClass : uint8_t { kOther, kLetter, kNumber, kWhitespace };

// General category L*, N*, or the White_Space property, as HF tokenizers' regex
// engine sees them.
CharClass char_class(char32_t cp);

// Decodes `s` into code points, and into each code point's byte offset when
// `offsets` is given (with one extra entry: s.size()). Returns the byte offset
// of the first invalid sequence (overlong, surrogate, above U+10FFFF,
// truncated), or std::string_view::npos when all of `s` is valid.
size_t decode_utf8(std::string_view s, std::vector<char32_t>& cps,
                   std::vector<uint32_t>* offsets = nullptr);

void append_utf8(std::string& out, char32_t cp);

// Bytes in the UTF-8 sequence that starts with `lead` (1 for a stray byte).
inline size_t utf8_sequence_length(unsigned char lead) {
  return lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

namespace detail {
struct CharRange {
  char32_t first;
  char32_t last;
  CharClass cls;
};
extern const CharRange kCharRanges[];
extern const size_t kCharRangeCount;
}  // namespace detail

}  // namespace qs::text
