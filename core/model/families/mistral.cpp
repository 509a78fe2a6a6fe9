// Mistral: Llama's layout with every layer attending through one sliding
// window (4096 tokens when the config does not say; null turns it off, as
// Mistral 7B v0.2 and later have it).
#include "core/model/families/families.h"

namespace qs::model::families {

const Architecture kMistral{
    "mistral",
    "MistralForCausalLM",
    false,
    false,
    [](const ConfigFields& f, ModelConfig& c) {
      c.attention_bias = c.output_bias = c.mlp_bias = false;
      c.sliding_window = f.present("sliding_window") ? f.integer_or("sliding_window", 0) : 4096;
      if (c.layer_types.empty()) c.layer_types.assign(static_cast<size_t>(c.num_layers), AttentionSpan::Sliding);
    },
    [](const ModelConfig& c, nlohmann::ordered_json& j) {
      if (c.sliding_window == 0) j["sliding_window"] = nullptr;
    },
};

}  // namespace qs::model::families
