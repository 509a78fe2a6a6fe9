#pragma once
// What Gemma 2 and Gemma 3 share: norms that scale by (1 + w) on both sides of
// the attention and the MLP, embeddings scaled by sqrt(hidden_size), a
// tanh-approximated GELU gate, queries scaled by query_pre_attn_scalar, tied
// embeddings unless the config says otherwise, and sliding layers.

#include <cmath>

#include "core/model/families/families.h"

namespace qs::model::families {

inline void read_gemma(const ConfigFields& f, ModelConfig& c, double attn_softcap, double final_softcap) {
  c.attention_bias = c.output_bias = f.boolean_or("attention_bias", false);
  c.mlp_bias = false;
  if (!f.find("hidden_activation") && !f.find("hidden_act")) c.activation = Activation::GeluTanh;
  c.norm_plus_one = c.sandwich_norms = c.scale_embedding = true;
  c.tie_word_embeddings = f.boolean_or("tie_word_embeddings", true);
  c.query_pre_attn_scalar = f.number_or("query_pre_attn_scalar", 256.0);
  // A soft-cap key present as null means none, absent the family's default.
  const auto softcap = [&](const char* key, double fallback) {
    return f.present(key) ? f.number_or(key, 0.0) : fallback;
  };
  c.attn_logit_softcapping = softcap("attn_logit_softcapping", attn_softcap);
  c.final_logit_softcapping = softcap("final_logit_softcapping", final_softcap);
  c.sliding_window = f.integer_or("sliding_window", 4096);
}

inline void write_gemma(const ModelConfig& c, nlohmann::ordered_json& j) {
  j["attention_bias"] = c.attention_bias;
  j["hidden_activation"] = "gelu_pytorch_tanh";
  // transformers' config classes take it as an integer, as every release has it.
  const double scalar = c.query_pre_attn_scalar;
  j["query_pre_attn_scalar"] = scalar == std::floor(scalar) ? nlohmann::ordered_json(static_cast<int64_t>(scalar))
                                                            : nlohmann::ordered_json(scalar);
  const auto softcap = [](double v) { return v > 0.0 ? nlohmann::ordered_json(v) : nlohmann::ordered_json(); };
  j["attn_logit_softcapping"] = softcap(c.attn_logit_softcapping);
  j["final_logit_softcapping"] = softcap(c.final_logit_softcapping);
}

}  // namespace qs::model::families
