#pragma once
// The (in, out) features of a model's linears, from the config alone:
// what kernel timings and memory estimates need without loading weights.

#include <cstdint>
#include <utility>
#include <vector>

#include "core/model/model_config.h"

namespace qs::model {

struct LinearShape {
  int64_t in = 0;
  int64_t out = 0;
  bool operator==(const LinearShape&) const = default;
};

// In block order (q, k, v, o, gate, up, down; an MoE block's experts after a
// dense block's linears), each shape once.
std::vector<LinearShape> distinct_linear_shapes(const ModelConfig& c);

}  // namespace qs::model
