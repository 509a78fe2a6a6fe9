#include "core/model/model_config.h"

#include <algorithm>

#include "core/error.h"

namespace qs::model {

void ModelConfig::validate(const std::string& source) const {
  auto positive = [&](const char* field, int64_t v) {
    if (v <= 0) throw ConfigError(source, field, "must be positive, found " + std::to_string(v));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_layers);
  positive("num_attention_heads", num_heads);
  positive("num_key_value_heads", num_kv_heads);
  positive("head_dim", head_dim);
  if (num_heads % num_kv_heads != 0)
    throw ConfigError(
        source, "num_key_value_heads",
        std::to_string(num_kv_heads) + " does not divide num_attention_heads " + std::to_string(num_heads));
  if (head_dim % 2 != 0)
    throw ConfigError(source, "head_dim", "rotary embedding needs an even head_dim, found " + std::to_string(head_dim));
  if (!(rms_norm_eps > 0.0)) throw ConfigError(source, "rms_norm_eps", "must be positive");
  if (!(rope_theta > 0.0)) throw ConfigError(source, "rope_theta", "must be positive");
  if (!layer_types.empty() && static_cast<int64_t>(layer_types.size()) != num_layers)
    throw ConfigError(source, "layer_types",
                      std::to_string(layer_types.size()) + " entries for " + std::to_string(num_layers) + " layers");
  if (sliding_window < 0) throw ConfigError(source, "sliding_window", "must not be negative");
  if (query_pre_attn_scalar < 0.0) throw ConfigError(source, "query_pre_attn_scalar", "must be positive");
  if (attn_logit_softcapping < 0.0) throw ConfigError(source, "attn_logit_softcapping", "must be positive");
  if (final_logit_softcapping < 0.0) throw ConfigError(source, "final_logit_softcapping", "must be positive");
  if (num_experts < 0) throw ConfigError(source, "num_experts", "must not be negative");
  if (num_experts > 0) {
    // A block holds three linears per expert; past this many a config is not a model.
    if (num_experts > 4096) throw ConfigError(source, "num_experts", std::to_string(num_experts) + " is past 4096");
    if (experts_per_token <= 0 || experts_per_token > num_experts)
      throw ConfigError(source, "num_experts_per_tok",
                        std::to_string(experts_per_token) + " outside 1.." + std::to_string(num_experts));
    positive("moe_intermediate_size", expert_intermediate_size);
    positive("decoder_sparse_step", moe_layer_step);
    if (shared_expert_intermediate_size < 0)
      throw ConfigError(source, "shared_expert_intermediate_size", "must not be negative");
  }
  if (!rope_scaling.type.empty() && rope_scaling.type != "llama3" && rope_scaling.type != "linear" &&
      rope_scaling.type != "longrope")
    throw ConfigError(source, "rope_scaling.rope_type",
                      "unsupported type '" + rope_scaling.type + "' (supported: llama3, linear, longrope)");
  if (!(partial_rotary_factor > 0.0 && partial_rotary_factor <= 1.0))
    throw ConfigError(source, "partial_rotary_factor", "must be in (0, 1]");
  if (rotary_dim() < 2 || rotary_dim() % 2 != 0)
    throw ConfigError(source, "partial_rotary_factor",
                      "rotates " + std::to_string(rotary_dim()) + " channels of each head; RoPE needs an even count");
  if (rope_scaling.type == "longrope") {
    const auto half = static_cast<size_t>(rotary_dim() / 2);
    for (const auto& [name, factors] :
         {std::pair{"short_factor", &rope_scaling.short_factor}, std::pair{"long_factor", &rope_scaling.long_factor}}) {
      if (factors->size() != half)
        throw ConfigError(
            source, std::string("rope_scaling.") + name,
            std::to_string(factors->size()) + " entries, where the rotary dimensions need " + std::to_string(half));
      for (double f : *factors)
        if (!(f > 0.0)) throw ConfigError(source, std::string("rope_scaling.") + name, "entries must be positive");
    }
    if (rope_scaling.original_max_position_embeddings <= 0)
      throw ConfigError(source, "original_max_position_embeddings", "must be positive");
  }
}

std::vector<AttentionSpan> periodic_layer_types(int64_t layers, int64_t period) {
  std::vector<AttentionSpan> types(static_cast<size_t>(std::max<int64_t>(layers, 0)), AttentionSpan::Full);
  for (int64_t i = 0; i < layers; ++i)
    if ((i + 1) % period != 0) types[static_cast<size_t>(i)] = AttentionSpan::Sliding;
  return types;
}

}  // namespace qs::model
