#include "core/io/atomic_directory.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/io/atomic_file.h"

namespace qs::io {
namespace fs = std::filesystem;

namespace {

std::string staging_prefix(const fs::path& target) { return "." + target.filename().string() + ".qs-staging-"; }

// Staging directories of the target whose writer is gone.
void remove_abandoned_staging(const fs::path& target) {
  const std::string prefix = staging_prefix(target);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(target.parent_path(), ec))
    if (entry.is_directory(ec) && !entry.is_symlink(ec) &&
        left_by_a_dead_writer(entry.path().filename().string(), prefix))
      remove_tree(entry.path());
}

void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

bool remove_tree(const fs::path& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT;
  if (!S_ISDIR(st.st_mode)) return ::unlink(path.c_str()) == 0;
  static thread_local bool failed;
  failed = false;
  const auto remove_one = [](const char* p, const struct stat*, int type, struct FTW*) {
    const int rc = type == FTW_DP ? ::rmdir(p) : ::unlink(p);
    if (rc != 0) failed = true;
    return 0;
  };
  if (::nftw(path.c_str(), remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0) return false;
  return !failed;
}

AtomicDirectory::AtomicDirectory(fs::path target) : target_(std::move(target)) {
  if (!target_.has_filename()) target_ = target_.parent_path();
  fs::path parent = target_.parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw IoError(target_.string(), "cannot create its parent directory: " + ec.message());
  remove_abandoned_staging(target_);
  staging_ = parent / (staging_prefix(target_) + std::to_string(::getpid()));
  remove_tree(staging_);
  if (!fs::create_directory(staging_, ec) || ec)
    throw IoError(target_.string(), "cannot create the staging directory " + staging_.string() + ": " +
                                        (ec ? ec.message() : std::string("it exists")));
}

AtomicDirectory::~AtomicDirectory() {
  if (!committed_) remove_tree(staging_);
}

void AtomicDirectory::commit() {
  sync_directory(staging_);
  std::error_code ec;
  const bool replacing = fs::exists(fs::symlink_status(target_, ec));
  int rc = replacing ? ::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE)
                     : ::rename(staging_.c_str(), target_.c_str());
  if (rc != 0 && replacing && (errno == EINVAL || errno == ENOSYS)) {
    // A filesystem without exchange: the old content steps aside first, so a
    // crash between the two renames leaves it beside the target, not lost.
    const fs::path aside = target_.parent_path() / (staging_prefix(target_) + "old-" + std::to_string(::getpid()));
    if (::rename(target_.c_str(), aside.c_str()) == 0) {
      rc = ::rename(staging_.c_str(), target_.c_str());
      if (rc == 0) {
        remove_tree(aside);
      } else {
        const int saved = errno;
        ::rename(aside.c_str(), target_.c_str());
        errno = saved;
      }
    }
  }
  if (rc != 0)
    throw IoError(target_.string(), std::string("cannot move the new content into place: ") + std::strerror(errno));
  committed_ = true;
  sync_directory(target_.parent_path().empty() ? fs::path(".") : target_.parent_path());
  // After the exchange the staging name holds the old content.
  if (replacing) remove_tree(staging_);
}

}  // namespace qs::io
