#pragma once
// One decoder block as QuantScope's checkpoint (quantscope_checkpoint.h)
// stores it: the norms and the linears left dense under their HF names, each
// quantized linear as <name>.qweight/.scales/.qzeros with its optional
// tensors, described by an entry of quantscope.json's "linears". Shared by the
// checkpoint and the run journal (pipeline/run_journal.h), so a resumed run
// reads back exactly what a finished one saves.

#include <torch/torch.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/checkpoint/provenance.h"
#include "core/io/safetensors_set.h"
#include "core/model/decoder.h"
#include "core/quant/quantized_linear.h"

namespace qs::checkpoint {

using NamedTensors = std::vector<io::PendingTensor>;

// Appends block `layer`'s tensors (built when written: a dense weight in the
// decoder's dtype, packed codes) and an entry per
// quantized linear to `linears`, with its method and metrics where
// `provenance` has them. Of the linears sharing one input transform, the
// first stores it and the others name it under "transform_of".
void append_block_tensors(const model::Decoder& decoder, int64_t layer, const Provenance& provenance,
                          NamedTensors& tensors, nlohmann::ordered_json& linears);

// The quantized linears `linears` describes, read from `st` and validated;
// the names of the tensors read are added to `used`. Linears naming another's
// transform share its tensor, so the decoder computes T·x once. Throws
// qs::FormatError naming `meta_file` and the entry's field, or the
// safetensors file and the tensor.
std::map<std::string, quant::QuantizedLinear> read_quantized_linears(const nlohmann::ordered_json& linears,
                                                                     const io::SafetensorsSet& st,
                                                                     const std::string& meta_file,
                                                                     std::set<std::string>& used);

}  // namespace qs::checkpoint
