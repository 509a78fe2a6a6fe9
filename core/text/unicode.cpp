#include "core/text/unicode.h"

#include <algorithm>
#include <array>

namespace qs::text {

namespace {

// ASCII is nearly all of the text we see; a direct table keeps the binary
// search off the hot path.
std::array<CharClass, 128> make_ascii_table() {
  std::array<CharClass, 128> table{};
  for (size_t i = 0; i < detail::kCharRangeCount && detail::kCharRanges[i].first < 128; ++i) {
    const auto& r = detail::kCharRanges[i];
    for (char32_t cp = r.first; cp <= r.last && cp < 128; ++cp) table[cp] = r.cls;
  }
  return table;
}

}  // namespace

CharClass char_class(char32_t cp) {
  static const std::array<CharClass, 128> ascii = make_ascii_table();
  if (cp < 128) return ascii[cp];
  const auto* end = detail::kCharRanges + detail::kCharRangeCount;
  const auto* it = std::upper_bound(detail::kCharRanges, end, cp,
                                    [](char32_t c, const detail::CharRange& r) { return c < r.first; });
  if (it == detail::kCharRanges) return CharClass::kOther;
  --it;
  return cp <= it->last ? it->cls : CharClass::kOther;
}

size_t decode_utf8(std::string_view s, std::vector<char32_t>& cps, std::vector<uint32_t>* offsets) {
  cps.clear();
  if (offsets) offsets->clear();
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char b = p[i];
    char32_t cp = b;
    size_t len = 1;
    if (b >= 0x80) {
      len = utf8_sequence_length(b);
      if (b < 0xC2 || b > 0xF4 || i + len > n) return i;
      cp = b & (0xFF >> (len + 1));
      for (size_t k = 1; k < len; ++k) {
        if ((p[i + k] & 0xC0) != 0x80) return i;
        cp = (cp << 6) | (p[i + k] & 0x3F);
      }
      // Overlong 3- and 4-byte forms, surrogates and values past U+10FFFF
      // pass the lead-byte check above; catch them on the decoded value.
      if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
          (cp >= 0xD800 && cp <= 0xDFFF))
        return i;
    }
    cps.push_back(cp);
    if (offsets) offsets->push_back(static_cast<uint32_t>(i));
    i += len;
  }
  if (offsets) offsets->push_back(static_cast<uint32_t>(n));
  return std::string_view::npos;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace qs::text
