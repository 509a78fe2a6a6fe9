#pragma once
// HF tokenizer.json and tokenizer_config.json for a GGUF's tokenizer. Exports
// made from a GGUF carry these so transformers and vLLM load them like any HF
// checkpoint and split text as the model's own tokenizer does:
// transformers' gguf_file= conversion maps SmolLM's "Digits then ByteLevel"
// to plain ByteLevel and tokenizes digits differently.

#include <string>

namespace qs::io {
class GgufFile;
}

namespace qs::text {

struct HfTokenizerFiles {
  std::string tokenizer_json;
  std::string tokenizer_config_json;
};

// For byte-level (tokenizer.ggml.model "gpt2") and SentencePiece ("llama")
// vocabularies. Throws what load_gguf_tokenizer throws for metadata it cannot
// read, so nothing is written from a bad file.
HfTokenizerFiles hf_tokenizer_files_from_gguf(const io::GgufFile& gguf);

}  // namespace qs::text
