// Qwen3-MoE (Qwen3-30B-A3B, Qwen3-235B-A22B): Qwen3's attention, with q and k
// normed per head, and a Mixture of Experts without a shared expert.
#include "core/model/families/qwen_moe.h"
#include "core/model/families/qwen_sliding.h"

namespace qs::model::families {

const Architecture kQwen3Moe{
    "qwen3_moe",
    "Qwen3MoeForCausalLM",
    true,
    false,
    [](const ConfigFields& f, ModelConfig& c) {
      c.qk_norm = true;
      c.mlp_bias = false;
      read_qwen_sliding(f, c);
      read_qwen_moe(f, c);
    },
    [](const ModelConfig& c, nlohmann::ordered_json& j) {
      j["attention_bias"] = c.attention_bias;
      write_qwen_sliding(c, j);
      write_qwen_moe(c, j);
    },
};

}  // namespace qs::model::families
