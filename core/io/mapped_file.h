#pragma once
// A read-only memory map of a whole file. Readers validate every offset they
// take from the file against size() before touching data().

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace qs::io {

class MappedFile {
 public:
  // Throws qs::IoError naming the path when it cannot be opened or mapped.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

  // Hands back the resident pages of [p, p + n) (whole pages, clipped to the
  // file): the bytes stay readable and come back from the file when touched
  // again, so a reader that streams a large file keeps only what it is using
  // in its resident set. Ranges outside the mapping are ignored.
  void release(const void* p, size_t n) const;

 private:
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace qs::io
