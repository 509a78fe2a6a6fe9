#pragma once
// Export of a quantized model to a checkpoint directory other tools load:
// config.json with `quantization_config`, model.safetensors in the chosen
// packed layout, the tokenizer files, and a README.md card saying what was
// done, and quantscope_provenance.json (checkpoint/provenance.h); or, for GGUF,
// model.gguf (see gguf_export.h), the card and the provenance.
// packed_checkpoint.h reads every format back, bit-exactly for codes and
// zero points (scales are stored in `dtype`, as the loaders expect).
// Or, as fake-quant, a plain FP checkpoint of the weights the quantized model
// computes with (dequantized, transforms and side branches folded in): what
// evaluation harnesses and other methods' code take, since it needs no
// quantization kernels; it saves no memory and is read back as an FP model.

#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/checkpoint/provenance.h"
#include "core/io/sharded_safetensors.h"
#include "core/model/decoder.h"

namespace qs::checkpoint {

enum class Format { CompressedTensors, Gptq, GptqV2, Awq, Gguf, FakeQuant };

// "compressed-tensors", "gptq", "gptq-v2", "awq", "gguf", "fake-quant"; throws qs::ArgumentError listing them.
Format parse_format(const std::string& name);
std::string format_name(Format f);

struct ExportOptions {
  Format format = Format::CompressedTensors;
  torch::ScalarType dtype = torch::kFloat16;  // unquantized tensors and scales
  // The model exported (file or directory): its tokenizer is copied, and its
  // directory is never written into. Empty: no tokenizer copied.
  std::filesystem::path tokenizer_source;
  // How it was quantized and measured: its run goes into the card, and all of
  // it into quantscope_provenance.json, so QuantScope can refine the export.
  Provenance provenance;
  // Above this many bytes the tensors go to numbered shards with an index
  // (io/sharded_safetensors.h), as transformers saves large models.
  uint64_t max_shard_bytes = io::kDefaultShardBytes;
};

struct ExportReport {
  int64_t quantized_linears = 0;
  std::vector<std::string> kept_fp;  // linears written unquantized
  uint64_t bytes = 0;                // of model.safetensors or its shards
  std::string quantization_config;   // as written, JSON (GGUF: tensors per ggml type; fake-quant: null)
  int64_t adapters = 0;              // side branches written to <dir>/adapter (PEFT LoRA)
  std::vector<std::string> notes;    // what the reading tool may take otherwise (GGUF family keys)
};

// Writes the whole export beside `dir` and swaps it in at the end
// (io::AtomicDirectory): whatever stops it (a layer the format cannot hold,
// which throws qs::ArgumentError naming it, a full disk, a kill) leaves `dir`
// as it was, and a finished export replaces all of an earlier one's files.
// Low-rank side branches go to a PEFT adapter in <dir>/adapter
// (peft_adapter.h). A fake-quant export writes no provenance (it holds no
// quantized layer to refine or compare).
// Refuses, before anything is written, a `dir` that is the directory of the
// model exported (options.tokenizer_source: the export would replace the
// files it is computed from) and a `dir` that exists and is not a directory.
ExportReport export_checkpoint(const model::Decoder& decoder, const ExportOptions& options,
                               const std::filesystem::path& dir);

// Whether `dir` holds an earlier export (its README.md is our model card):
// what a command line may write over without being told to.
bool holds_export(const std::filesystem::path& dir);

}  // namespace qs::checkpoint
