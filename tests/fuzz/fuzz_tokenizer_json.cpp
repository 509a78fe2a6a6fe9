// An HF tokenizer.json: read, encode and decode a fixed text, and write it as
// GGUF tokenizer metadata.
#include "core/io/gguf_writer.h"
#include "core/text/gguf_tokenizer_writer.h"
#include "core/text/tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = qs::fuzz::write_input("tok/tokenizer.json", data, size);
  qs::fuzz::refused_or_read([&] {
    const auto tok = qs::text::load_tokenizer_json(path);
    const auto ids = tok->encode("Hello world 12345 <|im_start|> ünïcode\n\n  tabs\t!");
    tok->decode(ids);
  });
  return qs::fuzz::refused_or_read([&] {
    qs::io::GgufWriter w;
    qs::text::add_gguf_tokenizer(path, 1 << 16, w);
  });
}
