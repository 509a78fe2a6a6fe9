// Qwen3 dense: Llama's layout with an RMSNorm over each head of q and k
// before RoPE; attention_bias puts biases on q, k, v and o.
#include "core/model/families/qwen_sliding.h"

namespace qs::model::families {

const Architecture kQwen3{
    "qwen3",
    "Qwen3ForCausalLM",
    true,
    false,
    [](const ConfigFields& f, ModelConfig& c) {
      c.qk_norm = true;
      c.mlp_bias = false;
      read_qwen_sliding(f, c);
    },
    [](const ModelConfig& c, nlohmann::ordered_json& j) {
      j["attention_bias"] = c.attention_bias;
      write_qwen_sliding(c, j);
    },
};

}  // namespace qs::model::families
