// An HF config.json of any family.
#include <string_view>

#include "core/checkpoint/hf_config.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return qs::fuzz::refused_or_read([&] {
    qs::checkpoint::parse_hf_config(std::string_view(reinterpret_cast<const char*>(data), size), "config.json");
  });
}
