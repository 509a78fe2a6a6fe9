// Mixtral: Mistral's attention and a Mixture of Experts in every layer, the
// top num_experts_per_tok of num_local_experts always rescaled to sum 1. Its
// checkpoints name the MoE block block_sparse_moe and an expert's gate, down
// and up projections w1, w2 and w3; the decoder knows them by Qwen-MoE's
// (and transformers 5's module) names, mlp.gate and mlp.experts.E.gate_proj.
#include <array>
#include <utility>

#include "core/model/families/uniform_window.h"

namespace qs::model::families {
namespace {

constexpr std::array<std::pair<const char*, const char*>, 3> kExpertLinears = {
    {{"w1", "gate_proj"}, {"w2", "down_proj"}, {"w3", "up_proj"}}};

// `name` with module segment `from` after "<block>.experts.<e>." replaced by
// `to`, and the block's own segment `block_from` by `block_to`.
std::string rename(const std::string& name, const std::string& block_from, const std::string& block_to,
                   bool to_logical) {
  const auto at = name.find(block_from);
  if (at == std::string::npos) return name;
  std::string out = name.substr(0, at) + block_to;
  std::string rest = name.substr(at + block_from.size());
  const std::string experts = "experts.";
  if (rest.rfind(experts, 0) == 0) {
    const auto dot = rest.find('.', experts.size());
    if (dot != std::string::npos) {
      const auto module_end = rest.find('.', dot + 1);
      const auto module =
          rest.substr(dot + 1, module_end == std::string::npos ? std::string::npos : module_end - dot - 1);
      for (const auto& [stored, logical] : kExpertLinears)
        if (module == (to_logical ? stored : logical)) {
          rest = rest.substr(0, dot + 1) + (to_logical ? logical : stored) +
                 (module_end == std::string::npos ? "" : rest.substr(module_end));
          break;
        }
    }
  }
  return out + rest;
}

}  // namespace

const Architecture kMixtral{
    "mixtral",
    "MixtralForCausalLM",
    false,
    false,
    [](const ConfigFields& f, ModelConfig& c) {
      c.attention_bias = c.output_bias = c.mlp_bias = false;
      read_uniform_window(f, c, 0);
      c.num_experts = f.integer("num_local_experts");
      c.experts_per_token = f.integer_or("num_experts_per_tok", 2);
      c.expert_intermediate_size = c.intermediate_size;
      c.normalize_expert_weights = true;
    },
    [](const ModelConfig& c, nlohmann::ordered_json& j) {
      write_uniform_window(c, j);
      j["num_local_experts"] = c.num_experts;
      j["num_experts_per_tok"] = c.experts_per_token;
    },
    nullptr,
    {},
    [](const std::string& stored) { return rename(stored, ".block_sparse_moe.", ".mlp.", true); },
    [](const std::string& logical) { return rename(logical, ".mlp.", ".block_sparse_moe.", false); },
};

}  // namespace qs::model::families
