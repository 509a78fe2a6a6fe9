#pragma once
// Files every checkpoint directory QuantScope writes has in common: small
// text files written atomically, its own versioned JSON records, and the
// tokenizer copied from the source.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace qs::io {

// Throws qs::IoError naming the file.
std::string read_small_file(const std::filesystem::path& path);
void write_file_atomically(const std::filesystem::path& path, const std::string& bytes);

// A JSON object {"format": `format`, "format_version": N, ...} with N at most
// `max_version`. Throws qs::FormatError naming the file and field otherwise.
nlohmann::ordered_json read_versioned_json(const std::filesystem::path& path, const std::string& format,
                                           int max_version);

// Copies the tokenizer of `source` into `dir`: tokenizer.json and its
// companions from an HF directory (or the directory of a .safetensors file),
// or the tokenizer.* metadata of a GGUF as tokenizer.gguf (plus an equivalent
// tokenizer.json and tokenizer_config.json for byte-level BPE vocabularies,
// which is what HF transformers and vLLM read). Throws qs::IoError /
// qs::FormatError naming the source when it has no tokenizer.
void copy_tokenizer_files(const std::filesystem::path& source, const std::filesystem::path& dir);

}  // namespace qs::io
