// Gemma 2: soft-capped attention scores (50) and logits (30) by default, and
// sliding layers alternating with global ones, the first sliding.
#include "core/model/families/gemma_common.h"

namespace qs::model::families {

const Architecture kGemma2{
    "gemma2",
    "Gemma2ForCausalLM",
    true,
    false,
    [](const ConfigFields& f, ModelConfig& c) {
      read_gemma(f, c, 50.0, 30.0);
      if (c.layer_types.empty()) set_periodic_layer_types(f, "layer_types", 2, c);
    },
    write_gemma,
};

}  // namespace qs::model::families
