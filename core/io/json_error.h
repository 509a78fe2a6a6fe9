#pragma once
// What went wrong parsing a JSON text. nlohmann's parse throws parse_error
// for bad syntax but out_of_range for a number past double's range ("1e999"),
// and a reader that catches only parse_error lets the second escape: readers
// catch nlohmann::json::exception and take the offset from here.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

namespace qs::io {

// The byte offset of a syntax error, plus `base` (where the text starts in
// its file); nullopt for errors that have none.
inline std::optional<uint64_t> json_error_offset(const nlohmann::json::exception& e, uint64_t base = 0) {
  if (const auto* p = dynamic_cast<const nlohmann::json::parse_error*>(&e)) return base + p->byte;
  return std::nullopt;
}

}  // namespace qs::io
