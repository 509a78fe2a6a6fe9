#pragma once
// QuantScope's own quantized checkpoint: a directory that `quantscope-cli eval`
// and the workbench open like any model, reproducing the quantized model's
// numbers exactly.
//   config.json          the HF config
//   model.safetensors    FP tensors under HF names, and per quantized linear
//                        <name>.qweight (int32, codes packed by quant/packing),
//                        <name>.scales (f32), <name>.qzeros (int32, unpacked) and
//                        the optional .g_idx .bias .input_scale .transform .lora_a .lora_b;
//                        past 5 GB, model-0000i-of-0000N.safetensors shards and
//                        model.safetensors.index.json instead, as transformers writes them
//   quantscope.json      format version, per-linear bits/group/method/params/metrics, run info;
//                        a linear whose input transform is another linear's of its
//                        block (AffineQuant's norm matrices: q/k/v share one, gate/up
//                        another) names it under "transform_of" and stores no .transform
//   tokenizer.json (+ its companions) copied from an HF source, or
//   tokenizer.gguf       the tokenizer.* metadata of a GGUF source
// The interoperable packed layouts (AutoAWQ, GPTQ, compressed-tensors) are in packed_export.h.

#include <filesystem>
#include <string>

#include "core/checkpoint/provenance.h"
#include "core/io/sharded_safetensors.h"
#include "core/model/decoder.h"
#include "core/model/model_weights.h"

namespace qs::checkpoint {

// 2 added "transform_of"; version 1 files read as before.
inline constexpr int kQuantscopeFormatVersion = 2;

// Writes the checkpoint beside `dir` and swaps it in whole
// (io::AtomicDirectory), so an earlier checkpoint there stays intact until
// the new one is complete, and a save stopped midway leaves no half
// checkpoint that would open; quantscope.json is written last. Past
// `max_shard_bytes` the tensors go to numbered shards with an index
// (sharded_safetensors.h), each built as it is written.
void save_quantscope_checkpoint(const model::Decoder& decoder, const Provenance& provenance,
                                const std::filesystem::path& dir,
                                uint64_t max_shard_bytes = io::kDefaultShardBytes);

bool is_quantscope_checkpoint(const std::filesystem::path& dir);

// Throws qs::IoError / FormatError naming the file and the linear or field.
model::ModelWeights load_quantscope_checkpoint(const std::filesystem::path& dir);

// What quantscope.json records beside the tensors (provenance.h). Throws like
// the loader.
Provenance read_quantscope_provenance(const std::filesystem::path& dir);

}  // namespace qs::checkpoint
