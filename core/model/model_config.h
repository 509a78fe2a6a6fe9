#pragma once
// Hyper-parameters of a Llama-family decoder (Llama, Mistral, Qwen2, SmolLM),
// filled from an HF config.json (checkpoint/hf_config) or GGUF metadata (checkpoint/gguf_model).

#include <cstdint>
#include <string>

namespace qs::model {

// Llama 3 "rope_scaling": {"rope_type": "llama3", ...}. factor == 0 means none.
struct RopeScaling {
  std::string type;  // "", "llama3" or "linear"
  double factor = 0.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture;  // "llama", "mistral", "qwen2" (family the layout follows)
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_heads unless the config says otherwise
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v carry a bias (Qwen2; Llama's attention_bias)
  bool output_bias = false;     // o_proj carries one (Llama's attention_bias)
  bool mlp_bias = false;        // gate/up/down carry one (Llama's mlp_bias)
  std::string torch_dtype;      // as stored ("float16", "bfloat16", "float32", "q4_1", ...)
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;

  // Throws qs::ConfigError naming `source` and the field when inconsistent
  // (non-positive sizes, heads not dividing, GQA groups not integral).
  void validate(const std::string& source) const;
};

}  // namespace qs::model
