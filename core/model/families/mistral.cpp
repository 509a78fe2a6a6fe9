// Mistral: Llama's layout with every layer attending through one sliding
// window (4096 tokens when the config does not say; null turns it off, as
// Mistral 7B v0.2 and later have it).
#include "core/model/families/uniform_window.h"

namespace qs::model::families {

const Architecture kMistral{
    "mistral",
    "MistralForCausalLM",
    false,
    false,
    [](const ConfigFields& f, ModelConfig& c) {
      c.attention_bias = c.output_bias = c.mlp_bias = false;
      read_uniform_window(f, c, 4096);
    },
    write_uniform_window,
};

}  // namespace qs::model::families
