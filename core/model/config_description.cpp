#include "core/model/config_description.h"

#include <sstream>

#include "core/model/architecture.h"

namespace qs::model {
namespace {

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// "0, 2, 4" for short lists, "0, 2, ..., 46 (24 of 48)" past a dozen.
std::string layer_list(const std::vector<int64_t>& layers, int64_t total) {
  std::string out;
  const size_t shown = layers.size() > 12 ? 3 : layers.size();
  for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + std::to_string(layers[i]);
  if (shown < layers.size()) out += ", ..., " + std::to_string(layers.back());
  return out + " (" + std::to_string(layers.size()) + " of " + std::to_string(total) + ")";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> describe_family_options(const ModelConfig& c) {
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<int64_t> sliding;
  for (int64_t l = 0; l < c.num_layers; ++l)
    if (c.sliding(l)) sliding.push_back(l);
  if (!sliding.empty())
    out.emplace_back("Attention window",
                     std::to_string(c.sliding_window) + " tokens, layers " + layer_list(sliding, c.num_layers));
  if (c.query_pre_attn_scalar > 0.0) out.emplace_back("Query scale", "1/sqrt(" + number(c.query_pre_attn_scalar) + ")");
  if (c.attn_logit_softcapping > 0.0 || c.final_logit_softcapping > 0.0) {
    std::string caps;
    if (c.attn_logit_softcapping > 0.0) caps += "scores " + number(c.attn_logit_softcapping);
    if (c.final_logit_softcapping > 0.0)
      caps += (caps.empty() ? "" : ", ") + ("logits " + number(c.final_logit_softcapping));
    out.emplace_back("Soft-capping", caps);
  }
  std::vector<std::string> norms;
  if (c.norm_plus_one) norms.emplace_back("scale by 1 + w");
  if (c.sandwich_norms) norms.emplace_back("also on the attention and MLP outputs");
  if (c.qk_norm) norms.emplace_back("per-head on q and k");
  if (!norms.empty()) {
    std::string text;
    for (const auto& n : norms) text += (text.empty() ? "" : "; ") + n;
    out.emplace_back("Norms", text);
  }
  if (c.activation == Activation::GeluTanh) out.emplace_back("MLP", "GeGLU (tanh-approximated GELU)");
  if (c.scale_embedding) out.emplace_back("Embedding scale", "sqrt(hidden size)");
  if (c.partial_rotary_factor != 1.0)
    out.emplace_back("Rotary channels",
                     std::to_string(c.rotary_dim()) + " of " + std::to_string(c.head_dim) + " per head");
  if (c.rope_scaling.type == "longrope")
    out.emplace_back("LongRoPE", "short factors up to " +
                                     std::to_string(c.rope_scaling.original_max_position_embeddings) +
                                     " tokens, long past them");
  if (c.sliding_rope_theta > 0.0) out.emplace_back("Sliding layers' RoPE", "theta = " + number(c.sliding_rope_theta));
  if (c.num_experts > 0) {
    std::vector<int64_t> moe;
    for (int64_t l = 0; l < c.num_layers; ++l)
      if (c.moe(l)) moe.push_back(l);
    std::string text = std::to_string(c.num_experts) + " experts of width " + std::to_string(c.expert_intermediate_size) +
                       ", top " + std::to_string(c.experts_per_token) +
                       (c.normalize_expert_weights ? " (weights rescaled to sum 1)" : "");
    if (c.shared_expert_intermediate_size > 0)
      text += ", a shared expert of width " + std::to_string(c.shared_expert_intermediate_size);
    if (static_cast<int64_t>(moe.size()) != c.num_layers) text += "; layers " + layer_list(moe, c.num_layers);
    out.emplace_back("Mixture of Experts", text);
  }
  if (const auto* arch = find_architecture(c.architecture); arch && !arch->fused_linears.empty()) {
    std::string fused;
    for (const auto& [module, parts] : arch->fused_linears) fused += (fused.empty() ? "" : ", ") + std::string(module);
    out.emplace_back("Stored fused", fused + " (opened as their parts)");
  }
  return out;
}

}  // namespace qs::model
