#pragma once
// A quantized model as one GGUF file llama.cpp runs: hyper-parameters from the
// config, the tokenizer.* metadata of a GGUF (the source model, or the
// tokenizer.gguf of a QuantScope checkpoint) or else converted from the HF
// tokenizer.json beside the model (byte-level or SentencePiece BPE), and each
// linear in the ggml type that holds its record exactly up to f16 block
// parameters: 4-bit symmetric → Q4_0, 4-bit asymmetric → Q4_1, 8-bit symmetric
// → Q8_0, kept in FP → F16. Groups must be a multiple of ggml's 32-value
// blocks; anything else is refused naming the layer. Linears llama.cpp keeps
// in one tensor (Phi-3's q/k/v and gate/up, an MoE's experts per projection)
// must be stored alike.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/model/decoder.h"

namespace qs::checkpoint {

struct GgufExportReport {
  int64_t quantized_linears = 0;
  std::vector<std::string> kept_fp;
  std::map<std::string, int> tensor_types;  // ggml type name → tensors
  uint64_t bytes = 0;
  // Values written as keys a llama.cpp build may not read (see
  // write_gguf_family_options): shown to the user beside the export.
  std::vector<std::string> notes;
};

// Throws qs::ArgumentError naming the layer (before anything is written) when
// a record does not fit, qs::IoError / FormatError for the tokenizer source.
GgufExportReport export_gguf(const model::Decoder& decoder, const std::filesystem::path& tokenizer_source,
                             const std::string& name, const std::filesystem::path& file);

}  // namespace qs::checkpoint
