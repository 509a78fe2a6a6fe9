#pragma once
// Mistral, Mixtral and Phi-3 give every layer the one sliding window their
// config names, or none when it is null.

#include "core/model/families/families.h"

namespace qs::model::families {

// `absent`: the window when the config has no sliding_window key at all.
inline void read_uniform_window(const ConfigFields& f, ModelConfig& c, int64_t absent) {
  c.sliding_window = f.present("sliding_window") ? f.integer_or("sliding_window", 0) : absent;
  if (c.sliding_window > 0 && c.layer_types.empty())
    c.layer_types.assign(static_cast<size_t>(c.num_layers), AttentionSpan::Sliding);
}

inline void write_uniform_window(const ModelConfig& c, nlohmann::ordered_json& j) {
  if (c.sliding_window == 0) j["sliding_window"] = nullptr;
}

}  // namespace qs::model::families
