#pragma once
// How many decoder blocks keep their built weights: all of them when the
// whole model fits several times over where it computes, else one at a time. A
// sequential pass (a forward, a block-by-block run) that cannot keep every
// block gains nothing from keeping some: each block is needed again only after
// all the others, so the least recently used one is always the next one needed.

#include <torch/torch.h>

#include <cstdint>

#include "core/model/model_config.h"

namespace qs::model {

// Bytes the device can still give: MemAvailable on the host, free memory on a
// CUDA device; -1 when unknown.
int64_t available_memory_bytes(torch::Device device);

// 0 (every block resident) when the model's block weights in `dtype` take at
// most an eighth of `available` bytes (or it is unknown), else 1. A run holds
// more than the weights: their quantized copies, the codes, the calibration
// activations and a method's working set.
int64_t default_resident_blocks(const ModelConfig& c, torch::ScalarType dtype, int64_t available);

}  // namespace qs::model
