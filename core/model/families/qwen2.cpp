// Qwen2 and Qwen2.5: Llama's layout with biases on q, k and v (always, and on
// nothing else).
#include "core/model/families/qwen_sliding.h"

namespace qs::model::families {

const Architecture kQwen2{
    "qwen2",
    "Qwen2ForCausalLM",
    false,
    false,
    [](const ConfigFields& f, ModelConfig& c) {
      c.attention_bias = true;
      c.output_bias = c.mlp_bias = false;
      read_qwen_sliding(f, c);
    },
    write_qwen_sliding,
};

}  // namespace qs::model::families
