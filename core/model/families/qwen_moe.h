#pragma once
// Qwen2-MoE and Qwen3-MoE share their Mixture-of-Experts keys: num_experts
// routed experts of moe_intermediate_size, the top num_experts_per_tok of a
// softmax, rescaled to sum 1 only under norm_topk_prob, in every
// decoder_sparse_step-th layer except those in mlp_only_layers.

#include "core/io/json_int.h"
#include "core/model/families/families.h"

namespace qs::model::families {

inline void read_qwen_moe(const ConfigFields& f, ModelConfig& c) {
  // transformers 5 writes num_local_experts for Qwen3-MoE; released configs say num_experts.
  c.num_experts = f.integer_or("num_experts", f.integer_or("num_local_experts", 0));
  c.experts_per_token = f.integer_or("num_experts_per_tok", 0);
  c.expert_intermediate_size = f.integer_or("moe_intermediate_size", 0);
  c.normalize_expert_weights = f.boolean_or("norm_topk_prob", false);
  c.moe_layer_step = f.integer_or("decoder_sparse_step", 1);
  c.dense_mlp_layers.clear();
  if (const auto* layers = f.find("mlp_only_layers")) {
    if (!layers->is_array())
      throw FormatError(f.source(), f.field("mlp_only_layers"), "expected a list of layer indices");
    for (const auto& l : *layers) {
      const auto layer = io::json_int64(l);
      if (!layer || *layer < 0 || *layer >= c.num_layers)
        throw FormatError(f.source(), f.field("mlp_only_layers"),
                          "entries must be layer indices below " + std::to_string(c.num_layers) + ", found " +
                              ConfigFields::brief(l));
      c.dense_mlp_layers.push_back(*layer);
    }
  }
}

inline void write_qwen_moe(const ModelConfig& c, nlohmann::ordered_json& j) {
  j["num_experts"] = c.num_experts;
  j["num_experts_per_tok"] = c.experts_per_token;
  j["moe_intermediate_size"] = c.expert_intermediate_size;
  j["norm_topk_prob"] = c.normalize_expert_weights;
  j["decoder_sparse_step"] = c.moe_layer_step;
  j["mlp_only_layers"] = c.dense_mlp_layers;
}

}  // namespace qs::model::families
