#include "core/checkpoint/gguf_tensor_map.h"

#include "core/model/decoder.h"

namespace qs::checkpoint {
namespace {

using model::LinearKind;
using model::LinearRole;

std::string weight(int64_t layer, LinearRole r) { return model::linear_name(layer, r) + ".weight"; }

// An MoE block's router, stacked experts and shared expert, as llama.cpp's
// MoE architectures (llama for Mixtral, qwen2moe, qwen3moe) name them.
void add_experts(const model::ModelConfig& c, int64_t layer, const std::string& g, std::vector<GgufTensorName>& e) {
  const int64_t h = c.hidden_size, ff = c.expert_intermediate_size, n = c.num_experts;
  const std::string m = "model.layers." + std::to_string(layer) + ".mlp.";
  e.push_back({g + "ffn_gate_inp.weight", m + "gate.weight", {n, h}, 0, true, 0.0, {}, true});
  for (const auto& [kind, name] :
       {std::pair{LinearKind::Gate, "ffn_gate_exps.weight"}, std::pair{LinearKind::Up, "ffn_up_exps.weight"},
        std::pair{LinearKind::Down, "ffn_down_exps.weight"}}) {
    const bool down = kind == LinearKind::Down;
    GgufTensorName t{g + name, "", {n, down ? h : ff, down ? ff : h}};
    for (int32_t x = 0; x < n; ++x) t.parts.push_back({weight(layer, {kind, x}), down ? h : ff});
    e.push_back(std::move(t));
  }
  const int64_t sff = c.shared_expert_intermediate_size;
  if (sff == 0) return;
  e.push_back({g + "ffn_gate_inp_shexp.weight", m + "shared_expert_gate.weight", {1, h}, 0, true, 0.0, {}, true});
  e.push_back({g + "ffn_gate_shexp.weight", weight(layer, {LinearKind::Gate, LinearRole::kSharedExpert}), {sff, h}});
  e.push_back({g + "ffn_up_shexp.weight", weight(layer, {LinearKind::Up, LinearRole::kSharedExpert}), {sff, h}});
  e.push_back({g + "ffn_down_shexp.weight", weight(layer, {LinearKind::Down, LinearRole::kSharedExpert}), {h, sff}});
}

}  // namespace

std::vector<GgufTensorName> gguf_tensor_map(const model::ModelConfig& c) {
  const int64_t h = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  const int64_t ff = c.intermediate_size;
  // convert_hf_to_gguf interleaves the rotary halves of Q and K rows for
  // its llama arch (Llama, Mistral, Mixtral: GGML's rope pairs adjacent
  // elements); the other families are converted as they are.
  const bool permuted = c.architecture == "llama" || c.architecture == "mistral" || c.architecture == "mixtral";
  // Phi-3's checkpoints store q, k, v and gate, up fused, and so does llama.cpp.
  const bool fused = c.architecture == "phi3";
  const double norm_added = c.norm_plus_one ? 1.0 : 0.0;
  const int64_t q_heads = permuted ? c.num_heads : 0;
  const int64_t k_heads = permuted ? c.num_kv_heads : 0;

  std::vector<GgufTensorName> e{
      {"token_embd.weight", "model.embed_tokens.weight", {c.vocab_size, h}},
      {"output_norm.weight", "model.norm.weight", {h}, 0, true, norm_added},
      {"output.weight", "lm_head.weight", {c.vocab_size, h}, 0, !c.tie_word_embeddings},
  };
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string g = "blk." + std::to_string(i) + ".";
    const std::string m = "model.layers." + std::to_string(i) + ".";
    const std::string a = m + "self_attn.", f = m + "mlp.";
    const bool qkv_bias = c.attention_bias;
    e.push_back({g + "attn_norm.weight", model::norm_name(c, i, model::NormRole::Input), {h}, 0, true, norm_added});
    if (c.qk_norm) {
      e.push_back({g + "attn_q_norm.weight", a + "q_norm.weight", {c.head_dim}, 0, true, norm_added});
      e.push_back({g + "attn_k_norm.weight", a + "k_norm.weight", {c.head_dim}, 0, true, norm_added});
    }
    if (c.sandwich_norms) {
      e.push_back({g + "post_attention_norm.weight", m + "post_attention_layernorm.weight", {h}, 0, true, norm_added});
      e.push_back({g + "post_ffw_norm.weight", m + "post_feedforward_layernorm.weight", {h}, 0, true, norm_added});
    }
    if (fused) {
      e.push_back({g + "attn_qkv.weight",
                   "",
                   {q + 2 * kv, h},
                   0,
                   true,
                   0.0,
                   {{a + "q_proj.weight", q}, {a + "k_proj.weight", kv}, {a + "v_proj.weight", kv}}});
    } else {
      e.push_back({g + "attn_q.weight", a + "q_proj.weight", {q, h}, q_heads});
      e.push_back({g + "attn_k.weight", a + "k_proj.weight", {kv, h}, k_heads});
      e.push_back({g + "attn_v.weight", a + "v_proj.weight", {kv, h}});
    }
    e.push_back({g + "attn_output.weight", a + "o_proj.weight", {h, q}});
    e.push_back({g + "attn_q.bias", a + "q_proj.bias", {q}, q_heads, qkv_bias});
    e.push_back({g + "attn_k.bias", a + "k_proj.bias", {kv}, k_heads, qkv_bias});
    e.push_back({g + "attn_v.bias", a + "v_proj.bias", {kv}, 0, qkv_bias});
    e.push_back({g + "attn_output.bias", a + "o_proj.bias", {h}, 0, c.output_bias});
    e.push_back(
        {g + "ffn_norm.weight", model::norm_name(c, i, model::NormRole::PostAttention), {h}, 0, true, norm_added});
    if (c.moe(i)) {
      add_experts(c, i, g, e);
      continue;
    }
    if (fused) {
      e.push_back({g + "ffn_up.weight",
                   "",
                   {2 * ff, h},
                   0,
                   true,
                   0.0,
                   {{f + "gate_proj.weight", ff}, {f + "up_proj.weight", ff}}});
    } else {
      e.push_back({g + "ffn_gate.weight", f + "gate_proj.weight", {ff, h}});
      e.push_back({g + "ffn_up.weight", f + "up_proj.weight", {ff, h}});
    }
    e.push_back({g + "ffn_down.weight", f + "down_proj.weight", {h, ff}});
    e.push_back({g + "ffn_gate.bias", f + "gate_proj.bias", {ff}, 0, c.mlp_bias});
    e.push_back({g + "ffn_up.bias", f + "up_proj.bias", {ff}, 0, c.mlp_bias});
    e.push_back({g + "ffn_down.bias", f + "down_proj.bias", {h}, 0, c.mlp_bias});
  }
  return e;
}

// convert_hf_to_gguf's permute(): the rows of each head viewed as
// (2, head_dim/2) and stored transposed.
torch::Tensor permute_rows(const torch::Tensor& w, int64_t n_head) {
  std::vector<int64_t> split{n_head, 2, w.size(0) / n_head / 2};
  for (int64_t d = 1; d < w.dim(); ++d) split.push_back(w.size(d));
  return w.reshape(split).transpose(1, 2).reshape(w.sizes()).contiguous();
}

torch::Tensor unpermute_rows(const torch::Tensor& w, int64_t n_head) {
  std::vector<int64_t> split{n_head, w.size(0) / n_head / 2, 2};
  for (int64_t d = 1; d < w.dim(); ++d) split.push_back(w.size(d));
  return w.reshape(split).transpose(1, 2).reshape(w.sizes()).contiguous();
}

}  // namespace qs::checkpoint
