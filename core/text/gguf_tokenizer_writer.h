#pragma once
// tokenizer.ggml.* metadata for an HF tokenizer.json, as llama.cpp's converter
// writes a byte-level BPE vocabulary or a SentencePiece one: what a GGUF
// export of a model opened from safetensors carries, since llama.cpp reads no
// tokenizer.json.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/io/gguf_writer.h"

namespace qs::text {

// Byte-level BPE: writes model "gpt2", the pre-tokenizer's llama.cpp name,
// the merges by rank. SentencePiece-style BPE (Llama 2, Mistral, Gemma):
// model "llama" with scores that make llama.cpp's highest-score-first merging
// follow the merges' ranks (each merged token scores minus the rank of the
// first merge that makes it), <0xNN> tokens typed byte, <unk> unknown, and
// add_space_prefix. Both: the tokens padded to `vocab_size` (the embedding's
// rows) with unused "[PAD<id>]" entries, added special tokens typed control and
// other added tokens user-defined, BOS/EOS and add_bos_token. Returns a note
// for each way GGUF readers may tokenize differently from the tokenizer.json.
// Throws what load_tokenizer_json throws for a bad file, and qs::ConfigError
// naming the file and field for what llama.cpp cannot hold or would split
// differently (a pre-tokenizer llama.cpp has no name for, SentencePiece word
// splitting or no byte fallback, more tokens than `vocab_size`).
std::vector<std::string> add_gguf_tokenizer(const std::filesystem::path& tokenizer_json, int64_t vocab_size,
                                            io::GgufWriter& w);

}  // namespace qs::text
