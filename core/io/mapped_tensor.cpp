#include "core/io/mapped_tensor.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/io/mapped_file.h"

namespace qs::io {
namespace {

// The storage's context: what keeps the mapping open, and what identifies a
// mapped storage (its deleter) without a registry.
struct MappingRef {
  std::shared_ptr<const MappedFile> file;
};

void drop_mapping_ref(void* ctx) { delete static_cast<MappingRef*>(ctx); }

const MappingRef* mapping_of(const torch::Tensor& t) {
  if (!t.defined() || !t.has_storage() || !t.device().is_cpu()) return nullptr;
  const auto& ptr = t.storage().data_ptr();
  if (ptr.get_deleter() != &drop_mapping_ref) return nullptr;
  return static_cast<const MappingRef*>(ptr.get_context());
}

}  // namespace

torch::Tensor mapped_tensor(std::shared_ptr<const MappedFile> file, uint64_t offset, std::vector<int64_t> shape,
                            torch::ScalarType type) {
  int64_t numel = 1;
  for (auto d : shape) {
    QS_ASSERT(d >= 0 && (d == 0 || numel <= INT64_MAX / d), "mapped tensor shape overflows");
    numel *= d;
  }
  const auto nbytes = static_cast<size_t>(numel) * c10::elementSize(type);
  QS_ASSERT(offset % c10::elementSize(type) == 0, "mapped tensor offset is not aligned to its dtype");
  QS_ASSERT(offset <= file->size() && nbytes <= file->size() - offset, "mapped tensor lies outside its file");
  void* data = const_cast<uint8_t*>(file->data() + offset);
  auto* ref = new MappingRef{std::move(file)};
  c10::DataPtr ptr(data, ref, &drop_mapping_ref, c10::Device(c10::kCPU));
  c10::Storage storage(c10::Storage::use_byte_size_t(), nbytes, std::move(ptr), /*allocator=*/nullptr,
                       /*resizable=*/false);
  return torch::empty({0}, torch::TensorOptions().dtype(type)).set_(std::move(storage), 0, shape);
}

bool is_mapped(const torch::Tensor& t) { return mapping_of(t) != nullptr; }

void release_mapped_pages(const torch::Tensor& t) {
  if (const auto* ref = mapping_of(t))
    ref->file->release(t.storage().data(), t.storage().nbytes());
}

torch::Tensor spill_to_file(const torch::Tensor& t, const std::filesystem::path& dir) {
  const auto c = t.detach().to(torch::kCPU).contiguous();
  if (c.nbytes() == 0) return c;
  // mkstemp fills in the six characters after the prefix.
  std::string name = (dir / (std::string(kSpillFilePrefix) + std::string(6, 'X'))).string();
  const int fd = ::mkstemp(name.data());
  if (fd < 0) throw IoError(dir.string(), std::string("cannot create a spill file: ") + std::strerror(errno));
  const auto* p = static_cast<const char*>(c.data_ptr());
  size_t left = c.nbytes();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(name.c_str());
      throw IoError(dir.string(), std::string("cannot write a spill file: ") + std::strerror(err));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  ::close(fd);
  std::shared_ptr<const MappedFile> file;
  try {
    file = std::make_shared<const MappedFile>(name);
  } catch (...) {
    ::unlink(name.c_str());
    throw;
  }
  ::unlink(name.c_str());
  auto view = mapped_tensor(std::move(file), 0, c.sizes().vec(), c.scalar_type());
  release_mapped_pages(view);
  return view;
}

}  // namespace qs::io
