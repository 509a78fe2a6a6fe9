#pragma once
// Writes a file through a temporary sibling that is renamed over the target on
// commit(), so readers never see a half-written file and a crash mid-write
// leaves the previous file intact. Without commit() the temporary is removed;
// one left by a killed writer is removed by the next writer of the target.

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>

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

// Whether `name` is `prefix` followed by the id of a process that is gone:
// what a writer killed mid-write leaves (a temporary, a staging directory).
bool left_by_a_dead_writer(const std::string& name, const std::string& prefix);

// Removes the temporaries AtomicFile (or save_project) left beside `target`
// when their writer was killed; called before writing the target again.
void remove_abandoned_temporaries(const std::filesystem::path& target);

}  // namespace qs::io
