#pragma once
// Qwen2 and Qwen3 share their sliding-window switch: use_sliding_window turns
// windows on for the layers from max_window_layers up.

#include <algorithm>

#include "core/model/families/families.h"

namespace qs::model::families {

inline void read_qwen_sliding(const ConfigFields& f, ModelConfig& c) {
  if (!f.boolean_or("use_sliding_window", false)) {
    c.sliding_window = 0;
    return;
  }
  c.sliding_window = f.integer_or("sliding_window", 4096);
  if (!c.layer_types.empty()) return;
  const int64_t first = f.integer_or("max_window_layers", 28);
  c.layer_types.assign(static_cast<size_t>(c.num_layers), AttentionSpan::Full);
  for (int64_t i = std::max<int64_t>(first, 0); i < c.num_layers; ++i)
    c.layer_types[static_cast<size_t>(i)] = AttentionSpan::Sliding;
}

inline void write_qwen_sliding(const ModelConfig& c, nlohmann::ordered_json& j) {
  j["use_sliding_window"] = c.sliding_window > 0;
}

}  // namespace qs::model::families
