#include "core/checkpoint/gguf_tensor_map.h"

#include "core/model/decoder.h"

namespace qs::checkpoint {

std::vector<GgufTensorName> gguf_tensor_map(const model::ModelConfig& c) {
  const int64_t h = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  const int64_t ff = c.intermediate_size;
  // convert_hf_to_gguf interleaves the rotary halves of Q and K rows for
  // Llama and Mistral (GGML's rope pairs adjacent elements); the other
  // families are converted as they are.
  const bool permuted = c.architecture == "llama" || c.architecture == "mistral";
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
    e.push_back({g + "attn_q.weight", a + "q_proj.weight", {q, h}, q_heads});
    e.push_back({g + "attn_k.weight", a + "k_proj.weight", {kv, h}, k_heads});
    e.push_back({g + "attn_v.weight", a + "v_proj.weight", {kv, h}});
    e.push_back({g + "attn_output.weight", a + "o_proj.weight", {h, q}});
    e.push_back({g + "attn_q.bias", a + "q_proj.bias", {q}, q_heads, qkv_bias});
    e.push_back({g + "attn_k.bias", a + "k_proj.bias", {kv}, k_heads, qkv_bias});
    e.push_back({g + "attn_v.bias", a + "v_proj.bias", {kv}, 0, qkv_bias});
    e.push_back({g + "attn_output.bias", a + "o_proj.bias", {h}, 0, c.output_bias});
    e.push_back(
        {g + "ffn_norm.weight", model::norm_name(c, i, model::NormRole::PostAttention), {h}, 0, true, norm_added});
    e.push_back({g + "ffn_gate.weight", f + "gate_proj.weight", {ff, h}});
    e.push_back({g + "ffn_up.weight", f + "up_proj.weight", {ff, h}});
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
