// A safetensors file: header JSON, entries, and each small tensor loaded and
// viewed.
#include "core/io/safetensors.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = qs::fuzz::write_input("model.safetensors", data, size);
  return qs::fuzz::refused_or_read([&] {
    const qs::io::SafetensorsFile f(path);
    for (const auto& e : f.entries()) {
      int64_t n = 1;
      for (const auto d : e.shape) n *= d;
      if (n > qs::fuzz::kDecodeLimit) continue;
      f.load(e.name);
      f.view(e.name);
    }
  });
}
