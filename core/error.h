#pragma once
// Typed errors of QuantScope's core. Every reader throws one of these with a
// message that names the file, the field and, where it helps, the offset or
// tensor, so the GUI and CLI can show it as is.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace qs {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// The file could not be opened, mapped or read.
class IoError : public Error {
 public:
  IoError(const std::string& path, const std::string& detail);
};

// The file was read but its content is wrong: bad header, offsets past the
// end, unknown dtype, shape mismatch, invalid UTF-8.
class FormatError : public Error {
 public:
  FormatError(const std::string& path, const std::string& field, const std::string& detail,
              std::optional<uint64_t> offset = std::nullopt);
};

// A configuration is valid JSON/metadata but describes something we cannot
// run: unknown architecture, inconsistent head counts, bad option value.
class ConfigError : public Error {
 public:
  ConfigError(const std::string& source, const std::string& field, const std::string& detail);
};

// Wrong arguments to a core call: shapes, devices, ranges.
class ArgumentError : public Error {
 public:
  explicit ArgumentError(const std::string& what) : Error(what) {}
};

// Cancellation is an outcome, not a failure, so it does not derive from Error.
class Cancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "cancelled"; }
};

}  // namespace qs

#define QS_ASSERT(cond, msg)                                                                   \
  do {                                                                                         \
    if (!(cond))                                                                               \
      throw ::qs::Error(std::string("internal error: ") + (msg) + " (" #cond ") at " __FILE__ \
                        ":" + std::to_string(__LINE__));                                       \
  } while (0)
