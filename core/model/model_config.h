#pragma once
// Hyper-parameters of a decoder of one of the families in architecture.h,
// filled from an HF config.json (checkpoint/hf_config) or GGUF metadata
// (checkpoint/gguf_model): the sizes every family has, and the options by
// which the families' forwards differ.

#include <cstdint>
#include <string>
#include <vector>

namespace qs::model {

// "rope_scaling" (transformers 5: "rope_parameters"): Llama 3's, linear, or
// Phi-3's LongRoPE. type "" means none.
struct RopeScaling {
  std::string type;  // "", "llama3", "linear" or "longrope"
  double factor = 0.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
  // LongRoPE: per-frequency divisors, the short ones up to the original
  // context, the long ones past it; cos and sin scale by attention_factor
  // (0: sqrt(1 + ln(factor) / ln(original context)), as the paper suggests).
  std::vector<double> short_factor, long_factor;
  double attention_factor = 0.0;
};

enum class Activation { Silu, GeluTanh };  // of the MLP's gate
enum class AttentionSpan { Full, Sliding };

struct ModelConfig {
  std::string architecture;  // HF model_type: "llama", "qwen3", "gemma2", ... (architecture.h)
  // The multimodal model ("gemma3") whose language model this is, read from
  // its text_config; empty for a language model checkpoint.
  std::string multimodal_wrapper;
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
  double partial_rotary_factor = 1.0;  // the fraction of each head RoPE rotates (Phi-4-mini: 0.75)
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v carry a bias (Qwen2; Llama's attention_bias)
  bool output_bias = false;     // o_proj carries one (Llama's attention_bias)
  bool mlp_bias = false;        // gate/up/down carry one (Llama's mlp_bias)
  Activation activation = Activation::Silu;
  bool qk_norm = false;                    // RMSNorm over each head of q and k (Qwen3, Gemma 3)
  bool norm_plus_one = false;              // norms scale by (1 + w) (Gemma); stored w, run with 1 + w
  bool sandwich_norms = false;             // norms on the attention's and the MLP's outputs too (Gemma 2/3)
  bool scale_embedding = false;            // embeddings times sqrt(hidden_size) (Gemma)
  double query_pre_attn_scalar = 0.0;      // scores scale by its -1/2 power; 0: head_dim's
  double attn_logit_softcapping = 0.0;     // scores become c·tanh(s / c); 0: none
  double final_logit_softcapping = 0.0;    // logits likewise
  int64_t sliding_window = 0;              // tokens a sliding layer sees, itself included; 0: none
  std::vector<AttentionSpan> layer_types;  // one per layer; empty: all Full
  double sliding_rope_theta = 0.0;         // RoPE base of sliding layers, unscaled (Gemma 3); 0: as full ones
  // Mixture of Experts (Mixtral, Qwen2-MoE, Qwen3-MoE); no experts: every block dense.
  int64_t num_experts = 0;                      // routed experts of an MoE block
  int64_t experts_per_token = 0;                // top-k
  int64_t expert_intermediate_size = 0;         // each routed expert's MLP width
  bool normalize_expert_weights = true;         // the top-k probabilities rescaled to sum 1 (norm_topk_prob)
  int64_t shared_expert_intermediate_size = 0;  // a gated expert every token passes (Qwen2-MoE); 0: none
  int64_t moe_layer_step = 1;                   // every step-th layer is MoE (decoder_sparse_step)
  std::vector<int64_t> dense_mlp_layers;        // layers with a dense MLP all the same (mlp_only_layers)
  std::string torch_dtype;                      // as stored ("float16", "bfloat16", "float32", "q4_1", ...)
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;
  int64_t pad_token_id = -1;  // written back: Phi-3's config class defaults it to 32000, past small vocabularies

  // Channels of a head RoPE rotates: the first ones, an even count.
  int64_t rotary_dim() const { return static_cast<int64_t>(static_cast<double>(head_dim) * partial_rotary_factor); }

  // Whether layer `l` attends through a sliding window.
  bool sliding(int64_t l) const {
    return sliding_window > 0 && !layer_types.empty() && layer_types[static_cast<size_t>(l)] == AttentionSpan::Sliding;
  }

  // Whether layer `l`'s MLP is a Mixture of Experts.
  bool moe(int64_t l) const {
    if (num_experts <= 0 || (l + 1) % moe_layer_step != 0) return false;
    for (auto d : dense_mlp_layers)
      if (d == l) return false;
    return true;
  }

  // Throws qs::ConfigError naming `source` and the field when inconsistent
  // (non-positive sizes, heads not dividing, GQA groups not integral).
  void validate(const std::string& source) const;
};

// Every period-th layer global, the others sliding (Gemma 2's period 2,
// Gemma 3's 6). period must be positive.
std::vector<AttentionSpan> periodic_layer_types(int64_t layers, int64_t period);

}  // namespace qs::model
