#include "core/io/atomic_file.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"

namespace qs::io {

namespace {

std::string temporary_suffix() { return ".tmp-"; }

}  // namespace

bool left_by_a_dead_writer(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  const auto pid = static_cast<pid_t>(std::stol(digits));
  return pid != ::getpid() && ::kill(pid, 0) == -1 && errno == ESRCH;
}

void remove_abandoned_temporaries(const std::filesystem::path& target) {
  const std::string prefix = target.filename().string() + temporary_suffix();
  std::error_code ec;
  const auto parent = target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec))
    if (entry.is_regular_file(ec) && !entry.is_symlink(ec) &&
        left_by_a_dead_writer(entry.path().filename().string(), prefix))
      std::filesystem::remove(entry.path(), ec);
}

AtomicFile::AtomicFile(const std::filesystem::path& target) : target_(target) {
  remove_abandoned_temporaries(target);
  temp_ = target;
  temp_ += temporary_suffix() + std::to_string(::getpid());
  f_ = std::fopen(temp_.c_str(), "wb");
  if (!f_) throw IoError(target.string(), std::string("cannot create temporary file: ") + std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (f_) {
    std::fclose(f_);
    std::error_code ec;
    std::filesystem::remove(temp_, ec);
  }
}

void AtomicFile::write(const void* data, size_t n) {
  if (n && std::fwrite(data, 1, n, f_) != n)
    throw IoError(target_.string(), std::string("write failed: ") + std::strerror(errno));
}

void AtomicFile::commit() {
  if (std::fflush(f_) != 0 || ::fsync(::fileno(f_)) != 0)
    throw IoError(target_.string(), std::string("flush failed: ") + std::strerror(errno));
  std::fclose(f_);
  f_ = nullptr;
  std::error_code ec;
  std::filesystem::rename(temp_, target_, ec);
  if (ec) {
    std::filesystem::remove(temp_);
    throw IoError(target_.string(), "cannot rename temporary file into place: " + ec.message());
  }
}

}  // namespace qs::io
