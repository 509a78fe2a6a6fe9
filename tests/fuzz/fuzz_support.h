#pragma once
// What every fuzz target shares: the parsers read files, so each input is
// written to a private directory in memory (/dev/shm when there is one), and
// a qs::Error is the one acceptable way for a parser to refuse it. Anything
// else that escapes (std::length_error, a torch c10::Error, nlohmann's
// exceptions) reaches libFuzzer as a crash, as do sanitizer reports and
// allocations past -malloc_limit_mb.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"

namespace qs::fuzz {

// A directory of this process's own, created on first use.
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    std::error_code ec;
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                           ? std::filesystem::path("/dev/shm")
                                           : std::filesystem::temp_directory_path();
    auto d = base / ("qs-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::filesystem::path write_input(const std::string& name, const uint8_t* data, size_t size) {
  const auto path = scratch() / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// Runs `parse`, accepting a refusal as qs::Error and nothing else.
template <class F>
int refused_or_read(F&& parse) {
  try {
    parse();
  } catch (const qs::Error&) {
  }
  return 0;
}

// Tensors small enough to decode on every input: a hostile size is the
// parser's to refuse, but decoding a legitimately large one teaches nothing.
constexpr int64_t kDecodeLimit = 1 << 16;

}  // namespace qs::fuzz
