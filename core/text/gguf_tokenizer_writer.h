#pragma once
// tokenizer.ggml.* metadata for an HF tokenizer.json, as llama.cpp's converter
// writes a byte-level BPE vocabulary: what a GGUF export of a model opened
// from safetensors carries, since llama.cpp reads no tokenizer.json.

#include <cstdint>
#include <filesystem>

#include "core/io/gguf_writer.h"

namespace qs::text {

// Writes model "gpt2", the pre-tokenizer's llama.cpp name, the tokens padded
// to `vocab_size` (the embedding's rows) with unused "[PAD<id>]" entries,
// their types (added special tokens are control tokens, other added tokens
// user-defined), the merges by rank, BOS/EOS and add_bos_token. Throws what
// load_tokenizer_json throws for a bad file, and qs::ConfigError naming the
// file and field for what llama.cpp cannot hold or would split differently
// (SentencePiece vocabularies, a pre-tokenizer llama.cpp has no name for,
// more tokens than `vocab_size`).
void add_gguf_tokenizer(const std::filesystem::path& tokenizer_json, int64_t vocab_size, io::GgufWriter& w);

}  // namespace qs::text
