#pragma once
// The linears of a decoder block and their HF names. A dense block has seven
// (q, k, v, o, gate, up, down); a Mixture-of-Experts block has q, k, v, o and
// then gate, up and down once per routed expert and once more for a shared
// expert where the family has one. The router stays in full precision and is
// not among them, as in every peer's MoE recipes.

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/model_config.h"

namespace qs::model {

enum class LinearKind : uint8_t { Q, K, V, O, Gate, Up, Down };

struct LinearRole {
  static constexpr int32_t kNoExpert = -1;      // attention, or a dense block's MLP
  static constexpr int32_t kSharedExpert = -2;  // the expert every token passes (Qwen2-MoE)

  LinearKind kind = LinearKind::Q;
  int32_t expert = kNoExpert;  // 0, 1, ...: a routed expert

  constexpr LinearRole() = default;
  constexpr LinearRole(LinearKind k, int32_t e = kNoExpert) : kind(k), expert(e) {}

  static const LinearRole Q, K, V, O, Gate, Up, Down;

  constexpr bool in_mlp() const { return kind >= LinearKind::Gate; }
  constexpr bool routed() const { return expert >= 0; }
  // The role of the same kind in the dense MLP: what a family's attention or
  // MLP option (biases, folding) says of every expert alike.
  constexpr LinearRole dense() const { return {kind}; }

  // Ordered as a block executes them (block_linear_roles), so maps keyed by
  // role iterate in execution order.
  friend constexpr bool operator==(const LinearRole&, const LinearRole&) = default;
  friend constexpr std::strong_ordering operator<=>(const LinearRole& a, const LinearRole& b) {
    return a.order_key() <=> b.order_key();
  }

 private:
  constexpr int64_t order_key() const {
    const int64_t group = !in_mlp() ? 0 : expert == kSharedExpert ? int64_t{1} << 32 : int64_t{expert} + 2;
    return group * 8 + static_cast<int64_t>(kind);
  }
};

inline constexpr LinearRole LinearRole::Q{LinearKind::Q};
inline constexpr LinearRole LinearRole::K{LinearKind::K};
inline constexpr LinearRole LinearRole::V{LinearKind::V};
inline constexpr LinearRole LinearRole::O{LinearKind::O};
inline constexpr LinearRole LinearRole::Gate{LinearKind::Gate};
inline constexpr LinearRole LinearRole::Up{LinearKind::Up};
inline constexpr LinearRole LinearRole::Down{LinearKind::Down};

// The seven linears of a dense block, in execution order.
inline constexpr std::array<LinearRole, 7> kLinearRoles = {
    LinearRole::Q, LinearRole::K, LinearRole::V, LinearRole::O, LinearRole::Gate, LinearRole::Up, LinearRole::Down};

// The linears of block `layer`, in execution order: kLinearRoles for a dense
// block; for an MoE block q, k, v, o, each routed expert's gate, up and down,
// then the shared expert's.
std::vector<LinearRole> block_linear_roles(const ModelConfig& c, int64_t layer);
// Where `r` sits in block_linear_roles(c, layer), or -1 when the block has no such linear.
int64_t linear_slot(const ModelConfig& c, int64_t layer, LinearRole r);
// How many linears block `layer` has.
int64_t block_linear_count(const ModelConfig& c, int64_t layer);

// HF module name within the block: "self_attn.q_proj", "mlp.down_proj",
// "mlp.experts.3.gate_proj", "mlp.shared_expert.up_proj".
std::string linear_role_name(LinearRole r);
// Full HF prefix: "model.layers.3.self_attn.q_proj"
std::string linear_name(int64_t layer, LinearRole r);
// The block's linear under module name `name` ("self_attn.q_proj", ...), or
// false when no linear of any block is called that.
bool parse_linear_role(const std::string& name, LinearRole& out);
// Whether the config gives linear `r` a bias (attention_bias, output_bias, mlp_bias).
bool has_bias(const ModelConfig& c, LinearRole r);
// [out, in] of linear `r`.
std::array<int64_t, 2> linear_shape(const ModelConfig& c, LinearRole r);

}  // namespace qs::model
