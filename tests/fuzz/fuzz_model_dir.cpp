// A whole model directory, as load_model opens it: config.json (with any
// quantization_config), single or sharded safetensors with their index, a
// QuantScope checkpoint's quantscope.json and provenance, a PEFT adapter, the
// tokenizer files. The input is a list of records, each one byte naming the
// file (kFiles), four bytes of length (little-endian, cut to what is left),
// then the bytes; a file named twice keeps its last record.
#include <array>
#include <cstring>
#include <map>

#include "core/checkpoint/model_loader.h"
#include "core/checkpoint/quantscope_checkpoint.h"
#include "core/text/tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

constexpr std::array<const char*, 12> kFiles = {"config.json",
                                                "model.safetensors",
                                                "model.safetensors.index.json",
                                                "model-00001-of-00002.safetensors",
                                                "model-00002-of-00002.safetensors",
                                                "quantscope.json",
                                                "quantscope_provenance.json",
                                                "adapter/adapter_config.json",
                                                "adapter/adapter_model.safetensors",
                                                "tokenizer.json",
                                                "tokenizer_config.json",
                                                "tokenizer.gguf"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, std::pair<const uint8_t*, size_t>> files;
  for (size_t at = 0; at + 5 <= size;) {
    const char* name = kFiles[data[at] % kFiles.size()];
    uint32_t n;
    std::memcpy(&n, data + at + 1, 4);
    at += 5;
    const size_t len = std::min<size_t>(n, size - at);
    files[name] = {data + at, len};
    at += len;
  }
  const auto dir = qs::fuzz::scratch() / "model";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  for (const auto& [name, bytes] : files)
    qs::fuzz::write_input(std::string("model/") + name, bytes.first, bytes.second);
  qs::fuzz::refused_or_read([&] {
    const auto w = qs::checkpoint::load_model(dir);
    for (const auto& [name, t] : w.tensors)
      if (t.numel() <= qs::fuzz::kDecodeLimit) w.at(name);
    for (const auto& [name, d] : w.deferred) {
      int64_t n = 1;
      for (const auto s : d.shape) n *= s;
      if (n <= qs::fuzz::kDecodeLimit) w.at(name);
    }
  });
  qs::fuzz::refused_or_read([&] { qs::checkpoint::read_quantscope_provenance(dir); });
  return qs::fuzz::refused_or_read([&] { qs::text::load_tokenizer_for_model(dir)->encode("Hello world 123"); });
}
