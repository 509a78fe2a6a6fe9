// Each ggml dequantizer on fuzzed blocks: the first byte picks the type.
#include <vector>

#include "core/io/ggml_dequant.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto type = qs::io::ggml_type_from_id(data[0]);
  if (!type || !qs::io::ggml_can_dequantize(*type)) return 0;
  const size_t block_bytes = qs::io::ggml_type_size(*type);
  const int64_t blocks = static_cast<int64_t>((size - 1) / block_bytes);
  std::vector<float> out(static_cast<size_t>(blocks * qs::io::ggml_block_size(*type)));
  qs::io::dequantize_row(*type, data + 1, out.data(), static_cast<int64_t>(out.size()));
  return 0;
}
