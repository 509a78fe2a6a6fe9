#pragma once
// UTF-8 validation for readers: strings from files are checked before use.

#include <cstddef>
#include <optional>
#include <string_view>

namespace qs::io {

// Byte offset of the first byte that does not start a valid UTF-8 sequence
// (overlong forms, surrogates and code points above U+10FFFF are invalid), or
// nullopt when the whole string is valid.
std::optional<size_t> first_invalid_utf8(std::string_view s);

}  // namespace qs::io
