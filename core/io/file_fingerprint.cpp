#include "core/io/file_fingerprint.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "core/error.h"

namespace qs::io {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kWholeFileLimit = uint64_t{64} << 20;
constexpr uint64_t kEdgeBytes = uint64_t{4} << 20;
constexpr uint64_t kSampleBytes = uint64_t{256} << 10;
constexpr int kSamples = 64;

// 64-bit multiply-xorshift over 8-byte words: not cryptographic, fast enough
// to hash a 64 MiB file from the page cache in a few tens of milliseconds.
class Hasher {
 public:
  void add(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      mix(w);
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p + i, n - i);
    mix(tail ^ (static_cast<uint64_t>(n - i) << 56));
  }
  void add_u64(uint64_t v) { mix(v); }
  uint64_t value() const {
    uint64_t h = h_;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
  }

 private:
  void mix(uint64_t w) {
    w *= 0x9e3779b97f4a7c15ULL;
    w ^= w >> 29;
    h_ = (h_ ^ w) * 0xbf58476d1ce4e5b9ULL;
    h_ ^= h_ >> 31;
  }
  uint64_t h_ = 0x6a09e667f3bcc908ULL;
};

void add_range(Hasher& h, std::ifstream& in, const fs::path& path, uint64_t offset, uint64_t n,
               std::vector<char>& buf) {
  in.seekg(static_cast<std::streamoff>(offset));
  while (n > 0) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(n, buf.size()));
    in.read(buf.data(), static_cast<std::streamsize>(k));
    if (in.gcount() != static_cast<std::streamsize>(k)) throw IoError(path.string(), "short read while fingerprinting");
    h.add(buf.data(), k);
    n -= k;
  }
}

void add_file(Hasher& h, const fs::path& path) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) throw IoError(path.string(), "cannot read size: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string(), "cannot open");
  h.add_u64(size);
  std::vector<char> buf(1 << 20);
  if (size <= kWholeFileLimit) {
    add_range(h, in, path, 0, size, buf);
    return;
  }
  add_range(h, in, path, 0, kEdgeBytes, buf);
  const uint64_t span = size - 2 * kEdgeBytes - kSampleBytes;
  for (int i = 0; i < kSamples; ++i) add_range(h, in, path, kEdgeBytes + span * i / (kSamples - 1), kSampleBytes, buf);
  add_range(h, in, path, size - kEdgeBytes, kEdgeBytes, buf);
}

bool is_model_file(const fs::path& p) {
  const auto name = p.filename().string();
  const auto ext = p.extension().string();
  return name == "config.json" || ext == ".safetensors" || ext == ".gguf" ||
         (name.size() > 11 && name.ends_with(".index.json"));
}

}  // namespace

std::string file_fingerprint(const fs::path& path) {
  Hasher h;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file() && is_model_file(e.path())) files.push_back(e.path());
    if (ec) throw IoError(path.string(), "cannot list: " + ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      const auto name = f.filename().string();
      h.add(name.data(), name.size());
      add_file(h, f);
    }
  } else {
    add_file(h, path);
  }
  char out[32];
  std::snprintf(out, sizeof out, "qsfp1:%016llx", static_cast<unsigned long long>(h.value()));
  return out;
}

}  // namespace qs::io
