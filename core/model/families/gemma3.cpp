// Gemma 3's text model: Gemma 2 without soft-caps by default, with RMSNorms
// over each head of q and k, five sliding layers to one global
// (sliding_window_pattern), and two RoPE bases: rope_theta (with any scaling)
// for global layers, rope_local_base_freq unscaled for sliding ones.
#include "core/model/families/gemma_common.h"

namespace qs::model::families {

const Architecture kGemma3Text{
    "gemma3_text",
    "Gemma3ForCausalLM",
    true,
    false,
    [](const ConfigFields& f, ModelConfig& c) {
      read_gemma(f, c, 0.0, 0.0);
      c.qk_norm = true;
      if (c.sliding_rope_theta == 0.0) c.sliding_rope_theta = f.number_or("rope_local_base_freq", 10000.0);
      if (c.layer_types.empty()) {
        const char* key = f.present("sliding_window_pattern") ? "sliding_window_pattern" : "_sliding_window_pattern";
        set_periodic_layer_types(f, key, f.integer_or(key, 6), c);
      }
    },
    [](const ModelConfig& c, nlohmann::ordered_json& j) {
      write_gemma(c, j);
      j["rope_local_base_freq"] = c.sliding_rope_theta;
    },
};

}  // namespace qs::model::families
