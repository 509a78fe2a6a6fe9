#pragma once
// A plain-tensor Llama forward written independently of core/model: explicit
// per-head loops, an explicit causal mask and softmax, RoPE as rotations of
// (i, i + D/2) pairs. Slow and simple: the yardstick for the Decoder.

#include <torch/torch.h>

#include <cmath>

#include "core/model/model_weights.h"

namespace qs::test {

inline torch::Tensor reference_rms(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return x / torch::sqrt(x.pow(2).mean(-1, true) + eps) * w;
}

// ids: [T] → logits [T, V], float64 throughout. inv_freq: [D/2].
inline torch::Tensor reference_llama_forward(const model::ModelWeights& mw, const torch::Tensor& ids,
                                             const torch::Tensor& inv_freq) {
  const auto& c = mw.config;
  auto W = [&](const std::string& n) { return mw.at(n).to(torch::kFloat64); };
  const int64_t T = ids.size(0), D = c.head_dim;
  auto x = W("model.embed_tokens.weight").index_select(0, ids);
  auto pos = torch::arange(T, torch::kFloat64).unsqueeze(1);
  auto ang = pos * inv_freq.to(torch::kFloat64).unsqueeze(0);  // [T, D/2]
  auto rope = [&](const torch::Tensor& v) {                   // v: [T, D]
    auto a = v.narrow(1, 0, D / 2), b = v.narrow(1, D / 2, D / 2);
    return torch::cat({a * ang.cos() - b * ang.sin(), b * ang.cos() + a * ang.sin()}, 1);
  };
  auto mask = torch::full({T, T}, -INFINITY, torch::kFloat64).triu(1);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto h = reference_rms(x, W(p + "input_layernorm.weight"), c.rms_norm_eps);
    auto proj = [&](const char* n) {
      auto y = h.matmul(W(p + n + std::string(".weight")).t());
      if (mw.has(p + n + std::string(".bias"))) y = y + W(p + n + std::string(".bias"));
      return y;
    };
    auto q = proj("self_attn.q_proj"), k = proj("self_attn.k_proj"), v = proj("self_attn.v_proj");
    std::vector<torch::Tensor> heads;
    for (int64_t hd = 0; hd < c.num_heads; ++hd) {
      const int64_t kvh = hd / (c.num_heads / c.num_kv_heads);
      auto qh = rope(q.narrow(1, hd * D, D));
      auto kh = rope(k.narrow(1, kvh * D, D));
      auto vh = v.narrow(1, kvh * D, D);
      auto scores = qh.matmul(kh.t()) / std::sqrt(static_cast<double>(D)) + mask;
      heads.push_back(torch::softmax(scores, 1).matmul(vh));
    }
    x = x + torch::cat(heads, 1).matmul(W(p + "self_attn.o_proj.weight").t());
    auto m = reference_rms(x, W(p + "post_attention_layernorm.weight"), c.rms_norm_eps);
    auto g = m.matmul(W(p + "mlp.gate_proj.weight").t());
    auto u = m.matmul(W(p + "mlp.up_proj.weight").t());
    x = x + (g * torch::sigmoid(g) * u).matmul(W(p + "mlp.down_proj.weight").t());
  }
  auto head = mw.has("lm_head.weight") ? W("lm_head.weight") : W("model.embed_tokens.weight");
  return reference_rms(x, W("model.norm.weight"), c.rms_norm_eps).matmul(head.t());
}

// 1 / theta^(2i/D), written out per element.
inline torch::Tensor reference_inv_freq(const model::ModelConfig& c) {
  auto f = torch::empty({c.head_dim / 2}, torch::kFloat64);
  for (int64_t i = 0; i < c.head_dim / 2; ++i)
    f[i] = 1.0 / std::pow(c.rope_theta, 2.0 * static_cast<double>(i) / static_cast<double>(c.head_dim));
  return f;
}

}  // namespace qs::test
