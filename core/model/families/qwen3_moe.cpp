// Qwen3-MoE (Qwen3-30B-A3B, Qwen3-235B-A22B): Qwen3's attention, with q and k
// normed per head, and a Mixture of Experts without a shared expert.
#include "core/model/families/qwen_moe.h"

namespace qs::model::families {

const Architecture kQwen3Moe{
    "qwen3_moe",
    "Qwen3MoeForCausalLM",
    true,
    false,
    [](const ConfigFields& f, ModelConfig& c) {
      kQwen3.read(f, c);
      read_qwen_moe(f, c);
    },
    [](const ModelConfig& c, nlohmann::ordered_json& j) {
      kQwen3.write(c, j);
      write_qwen_moe(c, j);
    },
};

}  // namespace qs::model::families
