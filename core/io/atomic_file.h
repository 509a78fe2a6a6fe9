#pragma once
// Writes a file through a temporary sibling that is renamed over the target on
// commit(), so readers never see a half-written file and a crash mid-write
// leaves the previous file intact. Without commit() the temporary is removed.

#include <cstddef>
#include <cstdio>
#include <filesystem>

namespace qs::io {

class AtomicFile {
 public:
  // Throws qs::IoError naming the target when the temporary cannot be created.
  explicit AtomicFile(const std::filesystem::path& target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Throws qs::IoError (disk full, I/O error) naming the target.
  void write(const void* data, size_t n);
  // Flushes, syncs and renames into place.
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  std::FILE* f_ = nullptr;
};

}  // namespace qs::io
