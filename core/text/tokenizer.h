#pragma once
// Text ↔ token ids, equal to Hugging Face tokenizers' ids for the model's own
// tokenizer. Two families: byte-level BPE (GPT-2, Llama-3, Qwen2, SmolLM) and
// SentencePiece-style BPE with byte fallback (Llama-2, Mistral).
//
// Loaders validate what they read and throw qs::IoError (cannot read),
// qs::FormatError (bad JSON/metadata: the message names file and field) or
// qs::ConfigError (a valid tokenizer of a kind we do not implement).
// A loaded tokenizer is immutable and safe to use from several threads.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qs::io {
class GgufFile;
}

namespace qs::text {

struct SpecialTokens {
  int32_t bos = -1;  // -1: the model has none
  int32_t eos = -1;
  bool add_bos = false;  // whether the model expects BOS before the text
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `utf8`, without BOS/EOS; added/special tokens written in the
  // text are matched whole, as HF does. Throws qs::ArgumentError when `utf8`
  // is not valid UTF-8 (naming the byte offset).
  virtual std::vector<int32_t> encode(std::string_view utf8) const = 0;
  // The text of `ids`, special tokens written out. A sequence that ends inside
  // a multi-byte character yields its partial bytes. Throws qs::ArgumentError
  // for an id outside [0, vocab_size()).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;

  int32_t bos_id() const { return special_.bos; }
  int32_t eos_id() const { return special_.eos; }
  bool add_bos() const { return special_.add_bos; }

 protected:
  explicit Tokenizer(SpecialTokens special) : special_(special) {}

 private:
  SpecialTokens special_;
};

// HF tokenizer.json; add_bos and the BOS/EOS tokens come from a
// tokenizer_config.json beside it when present, else from the post-processor.
std::unique_ptr<Tokenizer> load_tokenizer_json(const std::filesystem::path& path);

// From a GGUF file's tokenizer.ggml.* metadata.
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const qs::io::GgufFile& gguf);

// Where a model's tokenizer lives: a lone .safetensors file keeps it beside
// itself, so its directory; a .gguf file, a directory or a tokenizer.json,
// itself.
std::filesystem::path tokenizer_source(const std::filesystem::path& model_path);

// The files the tokenizer of `model_path` is read from (a .gguf file; or a
// tokenizer.json and the tokenizer_config.json beside it when there is one;
// or a checkpoint's tokenizer.gguf), so that a run can tell when they change.
// Throws qs::IoError naming the path when there is no tokenizer.
std::vector<std::filesystem::path> tokenizer_files(const std::filesystem::path& model_path);

// The tokenizer of `model_path` (tokenizer_source), from tokenizer_files().
// Throws qs::IoError naming the path when there is no tokenizer.
std::unique_ptr<Tokenizer> load_tokenizer_for_model(const std::filesystem::path& model_path);

}  // namespace qs::text
