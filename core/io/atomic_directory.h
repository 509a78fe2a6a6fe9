#pragma once
// Replaces a directory's whole content at once. The new content is written
// into a staging directory beside the target (.<name>.qs-staging-<pid>), and
// commit() exchanges the two with one renameat2(RENAME_EXCHANGE), so a reader
// (or a process killed at any point) sees the old content or the new, never
// a mix of the two; the old content is then deleted. Without commit() the
// staging directory is removed, leaving the target as it was. A staging
// directory left by a killed writer is removed by the next writer of the same
// target. While both exist the disk holds the old and the new content.

#include <filesystem>

namespace qs::io {

class AtomicDirectory {
 public:
  // Creates the staging directory (and the target's parent). Throws
  // qs::IoError naming the target when it cannot.
  explicit AtomicDirectory(std::filesystem::path target);
  ~AtomicDirectory();
  AtomicDirectory(const AtomicDirectory&) = delete;
  AtomicDirectory& operator=(const AtomicDirectory&) = delete;

  // Where the new content is written.
  const std::filesystem::path& path() const { return staging_; }
  const std::filesystem::path& target() const { return target_; }

  // Puts the staged content in the target's place. Throws qs::IoError naming
  // the target when the rename fails (the target is then as it was).
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path staging_;
  bool committed_ = false;
};

// Deletes `path` and everything under it, not following symbolic links;
// returns false when something could not be removed. (libtorch's wheel
// exports its own std::filesystem::remove_all, which crashes when called
// from QuantScope's code.)
bool remove_tree(const std::filesystem::path& path);

}  // namespace qs::io
