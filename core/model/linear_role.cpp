#include "core/model/linear_role.h"

namespace qs::model {

namespace {

constexpr int64_t kAttentionLinears = 4;
constexpr int64_t kMlpLinears = 3;

int64_t mlp_index(LinearKind k) { return static_cast<int64_t>(k) - static_cast<int64_t>(LinearKind::Gate); }

const char* mlp_module(LinearKind k) {
  switch (k) {
    case LinearKind::Gate:
      return "gate_proj";
    case LinearKind::Up:
      return "up_proj";
    default:
      return "down_proj";
  }
}

}  // namespace

int64_t block_linear_count(const ModelConfig& c, int64_t layer) {
  if (!c.moe(layer)) return kAttentionLinears + kMlpLinears;
  return kAttentionLinears + kMlpLinears * (c.num_experts + (c.shared_expert_intermediate_size > 0 ? 1 : 0));
}

std::vector<LinearRole> block_linear_roles(const ModelConfig& c, int64_t layer) {
  if (!c.moe(layer)) return {kLinearRoles.begin(), kLinearRoles.end()};
  std::vector<LinearRole> roles = {LinearRole::Q, LinearRole::K, LinearRole::V, LinearRole::O};
  roles.reserve(static_cast<size_t>(block_linear_count(c, layer)));
  const auto mlp = [&](int32_t expert) {
    for (auto k : {LinearKind::Gate, LinearKind::Up, LinearKind::Down}) roles.emplace_back(k, expert);
  };
  for (int32_t e = 0; e < static_cast<int32_t>(c.num_experts); ++e) mlp(e);
  if (c.shared_expert_intermediate_size > 0) mlp(LinearRole::kSharedExpert);
  return roles;
}

int64_t linear_slot(const ModelConfig& c, int64_t layer, LinearRole r) {
  if (!r.in_mlp()) return r.expert == LinearRole::kNoExpert ? static_cast<int64_t>(r.kind) : -1;
  const int64_t within = mlp_index(r.kind);
  if (!c.moe(layer)) return r.expert == LinearRole::kNoExpert ? kAttentionLinears + within : -1;
  if (r.routed() && r.expert < c.num_experts) return kAttentionLinears + kMlpLinears * r.expert + within;
  if (r.expert == LinearRole::kSharedExpert && c.shared_expert_intermediate_size > 0)
    return kAttentionLinears + kMlpLinears * c.num_experts + within;
  return -1;
}

std::string linear_role_name(LinearRole r) {
  switch (r.kind) {
    case LinearKind::Q:
      return "self_attn.q_proj";
    case LinearKind::K:
      return "self_attn.k_proj";
    case LinearKind::V:
      return "self_attn.v_proj";
    case LinearKind::O:
      return "self_attn.o_proj";
    default:
      break;
  }
  if (r.routed()) return "mlp.experts." + std::to_string(r.expert) + "." + mlp_module(r.kind);
  if (r.expert == LinearRole::kSharedExpert) return std::string("mlp.shared_expert.") + mlp_module(r.kind);
  return std::string("mlp.") + mlp_module(r.kind);
}

std::string linear_name(int64_t layer, LinearRole r) {
  return "model.layers." + std::to_string(layer) + "." + linear_role_name(r);
}

bool parse_linear_role(const std::string& name, LinearRole& out) {
  for (auto r : kLinearRoles)
    if (name == linear_role_name(r)) return out = r, true;
  const auto kind_of = [](const std::string& module, LinearKind& k) {
    for (auto kind : {LinearKind::Gate, LinearKind::Up, LinearKind::Down})
      if (module == mlp_module(kind)) return k = kind, true;
    return false;
  };
  LinearKind k{};
  if (const std::string shared = "mlp.shared_expert."; name.rfind(shared, 0) == 0)
    return kind_of(name.substr(shared.size()), k) ? (out = {k, LinearRole::kSharedExpert}, true) : false;
  const std::string experts = "mlp.experts.";
  if (name.rfind(experts, 0) != 0) return false;
  const auto dot = name.find('.', experts.size());
  const auto digits = name.substr(experts.size(), dot == std::string::npos ? 0 : dot - experts.size());
  if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  if (!kind_of(name.substr(dot + 1), k)) return false;
  out = {k, static_cast<int32_t>(std::stol(digits))};
  return true;
}

bool has_bias(const ModelConfig& c, LinearRole r) {
  switch (r.kind) {
    case LinearKind::Q:
    case LinearKind::K:
    case LinearKind::V:
      return c.attention_bias;
    case LinearKind::O:
      return c.output_bias;
    default:
      return c.mlp_bias;
  }
}

std::array<int64_t, 2> linear_shape(const ModelConfig& c, LinearRole r) {
  const int64_t H = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  const int64_t I = r.routed()                              ? c.expert_intermediate_size
                    : r.expert == LinearRole::kSharedExpert ? c.shared_expert_intermediate_size
                                                            : c.intermediate_size;
  switch (r.kind) {
    case LinearKind::Q:
      return {q, H};
    case LinearKind::K:
    case LinearKind::V:
      return {kv, H};
    case LinearKind::O:
      return {H, q};
    case LinearKind::Gate:
    case LinearKind::Up:
      return {I, H};
    case LinearKind::Down:
      return {H, I};
  }
  return {0, 0};
}

}  // namespace qs::model
