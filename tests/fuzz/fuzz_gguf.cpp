// A GGUF file: header, metadata of every type, tensor infos, small tensors
// dequantized, the vocabulary (as a tokenizer and as tokenizer.json), and the
// model configuration read from the metadata.
#include "core/checkpoint/gguf_model.h"
#include "core/io/gguf_file.h"
#include "core/text/tokenizer.h"
#include "core/text/tokenizer_json_writer.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = qs::fuzz::write_input("model.gguf", data, size);
  qs::fuzz::refused_or_read([&] {
    const qs::io::GgufFile f(path);
    for (const auto& key : f.keys()) qs::fuzz::refused_or_read([&] { f.get_string(key); });
    for (const auto& t : f.tensors())
      if (t.numel() <= qs::fuzz::kDecodeLimit) qs::fuzz::refused_or_read([&] { f.dequantize(t); });
    qs::fuzz::refused_or_read([&] { qs::text::load_gguf_tokenizer(f)->encode("Hello 123, wörld!"); });
    qs::fuzz::refused_or_read([&] { qs::text::hf_tokenizer_files_from_gguf(f); });
  });
  return qs::fuzz::refused_or_read([&] { qs::checkpoint::load_gguf_model(path); });
}
