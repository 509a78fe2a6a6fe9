#pragma once
// The tokenizer every checkpoint directory QuantScope writes carries beside
// its tensors, copied from the model it was made from.

#include <filesystem>

namespace qs::checkpoint {

// Copies the tokenizer of `source` into `dir`: tokenizer.json and its
// companions from an HF directory (or the directory of a .safetensors file),
// or the tokenizer.* metadata of a GGUF as tokenizer.gguf (plus an equivalent
// tokenizer.json and tokenizer_config.json for byte-level BPE vocabularies,
// which is what HF transformers and vLLM read). Throws qs::IoError /
// qs::FormatError naming the source when it has no tokenizer.
void copy_tokenizer_files(const std::filesystem::path& source, const std::filesystem::path& dir);

}  // namespace qs::checkpoint
