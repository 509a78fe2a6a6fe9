// Llama 1-3.x and the models that copy its layout (SmolLM, TinyLlama): the
// forward every option of ModelConfig leaves at its default.
#include "core/model/families/families.h"

namespace qs::model::families {

const Architecture kLlama{
    "llama",
    "LlamaForCausalLM",
    true,
    true,
    [](const ConfigFields&, ModelConfig&) {},
    [](const ModelConfig& c, nlohmann::ordered_json& j) {
      j["attention_bias"] = c.attention_bias || c.output_bias;
      j["mlp_bias"] = c.mlp_bias;
    },
};

}  // namespace qs::model::families
