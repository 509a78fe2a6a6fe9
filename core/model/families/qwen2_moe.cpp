// Qwen1.5-MoE and Qwen2-MoE: Qwen2's attention (biases on q, k and v under
// qkv_bias) and a Mixture of Experts beside a shared expert every token
// passes, weighted by a sigmoid gate of its own.
#include "core/model/families/qwen_moe.h"

namespace qs::model::families {

const Architecture kQwen2Moe{
    "qwen2_moe",
    "Qwen2MoeForCausalLM",
    false,
    false,
    [](const ConfigFields& f, ModelConfig& c) {
      kQwen2.read(f, c);
      c.attention_bias = f.boolean_or("qkv_bias", true);
      read_qwen_moe(f, c);
      c.shared_expert_intermediate_size = f.integer_or("shared_expert_intermediate_size", 0);
    },
    [](const ModelConfig& c, nlohmann::ordered_json& j) {
      kQwen2.write(c, j);
      j["qkv_bias"] = c.attention_bias;
      write_qwen_moe(c, j);
      j["shared_expert_intermediate_size"] = c.shared_expert_intermediate_size;
    },
};

}  // namespace qs::model::families
