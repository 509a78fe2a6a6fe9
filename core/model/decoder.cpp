#include "core/model/decoder.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/io/mapped_tensor.h"
#include "core/model/quantized_linear_op.h"
#include "core/model/residency.h"
#include "core/model/transform_sharing.h"
#include "core/quant/quantized_linear.h"

namespace qs::model {

std::string norm_name(const ModelConfig& c, int64_t layer, NormRole role) {
  const char* name = role == NormRole::Input ? "input_layernorm"
                     : c.sandwich_norms      ? "pre_feedforward_layernorm"
                                             : "post_attention_layernorm";
  return "model.layers." + std::to_string(layer) + "." + name + ".weight";
}

torch::Tensor norm_factor(const ModelConfig& c, const torch::Tensor& stored) {
  return c.norm_plus_one ? 1.0 + stored.to(torch::kFloat32) : stored;
}

namespace {

std::string shape_str(c10::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

void check_shape(const ModelWeights& w, const std::string& name, const std::vector<int64_t>& shape) {
  const auto got = w.shape(name);
  if (got != shape)
    throw FormatError(w.source.string(), "tensor '" + name + "'",
                      "shape " + shape_str(got) + ", expected " + shape_str(shape));
}

// As stored (decoded, when the checkpoint defers it).
torch::Tensor stored(const ModelWeights& w, const std::string& name, const std::vector<int64_t>& shape) {
  check_shape(w, name, shape);
  return w.at(name);
}

torch::Tensor take(const ModelWeights& w, const std::string& name, std::vector<int64_t> shape, torch::Device device,
                   torch::ScalarType dtype) {
  return stored(w, name, shape).to(device, dtype).contiguous();
}

}  // namespace

int64_t block_weight_bytes(const ModelConfig& c, torch::ScalarType dtype) {
  // The largest block: an MoE block holds every expert's weights.
  int64_t params = 0;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    int64_t block = c.moe(l) ? c.num_experts * c.hidden_size : 0;
    for (auto r : block_linear_roles(c, l)) {
      const auto [out, in] = linear_shape(c, r);
      block += out * in;
    }
    params = std::max(params, block);
    if (l > 0 && c.moe_layer_step == 1 && c.dense_mlp_layers.empty()) break;  // all blocks alike
  }
  return params * static_cast<int64_t>(c10::elementSize(dtype));
}

Decoder::Decoder(const ModelWeights& w, torch::Device device, torch::ScalarType dtype)
    : config_(w.config), device_(device), dtype_(dtype) {
  const auto& c = config_;
  c.validate(w.source.string());
  const int64_t H = c.hidden_size;
  // A GGUF's vocabulary matrices stay in the file, their rows decoded when read.
  const auto vocab = [&](const std::string& name, torch::Tensor& whole, DeferredTensor& rows) {
    check_shape(w, name, {c.vocab_size, H});
    if (auto d = w.deferred.find(name); d != w.deferred.end() && d->second.decode_rows)
      rows = d->second;
    else
      whole = w.at(name);
  };
  vocab("model.embed_tokens.weight", embed_stored_, embed_rows_);
  final_norm_ = take(w, "model.norm.weight", {H}, device, dtype);
  if (c.tie_word_embeddings && !w.has("lm_head.weight")) {
    lm_head_stored_ = embed_stored_;
    lm_head_rows_ = embed_rows_;
    head_tied_ = true;
  } else {
    vocab("lm_head.weight", lm_head_stored_, lm_head_rows_);
  }

  blocks_.resize(c.num_layers);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    Block& b = blocks_[l];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    b.input_norm = take(w, norm_name(l, NormRole::Input), {H}, device, dtype);
    b.post_attention_norm = take(w, norm_name(l, NormRole::PostAttention), {H}, device, dtype);
    if (c.sandwich_norms) {
      b.attention_out_norm = take(w, p + "post_attention_layernorm.weight", {H}, device, dtype);
      b.mlp_out_norm = take(w, p + "post_feedforward_layernorm.weight", {H}, device, dtype);
    }
    if (c.qk_norm) {
      b.q_norm = take(w, p + "self_attn.q_norm.weight", {c.head_dim}, device, dtype);
      b.k_norm = take(w, p + "self_attn.k_norm.weight", {c.head_dim}, device, dtype);
    }
    if (c.moe(l)) {
      b.router = take(w, p + "mlp.gate.weight", {c.num_experts, H}, device, dtype);
      if (c.shared_expert_intermediate_size > 0)
        b.shared_expert_gate = take(w, p + "mlp.shared_expert_gate.weight", {1, H}, device, dtype);
    }
    b.roles = block_linear_roles(c, l);
    b.linears.resize(b.roles.size());
    b.names.resize(b.roles.size());
    for (size_t r = 0; r < b.roles.size(); ++r) {
      const LinearRole role = b.roles[r];
      const auto [out, in] = linear_shape(c, role);
      b.names[r] = linear_name(l, role);
      if (auto q = w.quantized.find(b.names[r]); q != w.quantized.end()) {
        if (q->second->out_features != out || q->second->in_features != in)
          throw FormatError(w.source.string(), "quantized linear '" + b.names[r] + "'",
                            "shape [" + std::to_string(q->second->out_features) + ", " +
                                std::to_string(q->second->in_features) + "], expected [" + std::to_string(out) + ", " +
                                std::to_string(in) + "]");
        b.linears[r] = std::make_shared<model::QuantizedLinearOp>(q->second, device, dtype);
        continue;
      }
      const std::string weight = b.names[r] + ".weight";
      check_shape(w, weight, {out, in});
      torch::Tensor bias;
      if (has_bias(c, role)) bias = take(w, b.names[r] + ".bias", {out}, device, dtype);
      if (auto d = w.deferred.find(weight); d != w.deferred.end())
        b.linears[r] = std::make_shared<DenseLinear>(out, in, d->second.decode, std::move(bias), device, dtype);
      else
        b.linears[r] = std::make_shared<DenseLinear>(w.tensors.at(weight), std::move(bias), device, dtype);
    }
    match_transforms(b);
  }
  rope_.emplace(c, device, dtype);
  if (c.sliding_rope_theta > 0.0) {
    ModelConfig local = c;
    local.rope_theta = c.sliding_rope_theta;
    local.rope_scaling = {};
    sliding_rope_.emplace(local, device, dtype);
  }
  set_resident_blocks(default_resident_blocks(c, dtype, available_memory_bytes(device)));
}

void Decoder::place_vocab_matrices() const {
  if (vocab_placed_) return;
  vocab_placed_ = true;
  // Streamed, they stay in their stored dtype: a bf16 checkpoint's are half
  // the size of their float32 copies, and on the CPU they stay in the file.
  const auto place = [&](const torch::Tensor& stored, const DeferredTensor& rows) -> torch::Tensor {
    if (resident_limit_ == 0) return (stored.defined() ? stored : rows.decode()).to(device_, dtype_).contiguous();
    return stored.defined() ? stored.to(device_).contiguous() : torch::Tensor();
  };
  embed_tokens_ = place(embed_stored_, embed_rows_);
  lm_head_ = head_tied_ ? embed_tokens_ : place(lm_head_stored_, lm_head_rows_);
}

torch::Tensor Decoder::embed_weight() const {
  place_vocab_matrices();
  return embed_tokens_.defined() ? embed_tokens_ : embed_rows_.decode();
}

torch::Tensor Decoder::lm_head_weight() const {
  place_vocab_matrices();
  return lm_head_.defined() ? lm_head_ : lm_head_rows_.decode();
}

torch::Tensor Decoder::rms_norm(const torch::Tensor& x, const torch::Tensor& w) const {
  // Statistics in float32 whatever the model dtype, as HF's LlamaRMSNorm does.
  auto xf = x.to(torch::kFloat32);
  auto var = xf.pow(2).mean(-1, /*keepdim=*/true);
  xf = xf * torch::rsqrt(var + config_.rms_norm_eps);
  // Gemma scales in float32 by 1 + w and then casts; Llama casts and then scales.
  if (config_.norm_plus_one) return (xf * (1.0 + w.to(torch::kFloat32))).to(x.scalar_type());
  return w * xf.to(x.scalar_type());
}

bool Decoder::Block::same_transform(const torch::Tensor& a, const torch::Tensor& b) const {
  if (a.is_same(b)) return true;
  for (const auto& [p, q] : equal_transforms)
    if ((p.is_same(a) && q.is_same(b)) || (p.is_same(b) && q.is_same(a))) return true;
  return false;
}

void Decoder::match_transforms(Block& b) {
  // Linears reading one input: q, k and v; each MLP's gate and up (keyed by expert).
  const auto group_of = [](LinearRole r) {
    return r.kind <= LinearKind::V ? std::numeric_limits<int32_t>::min() : r.expert;
  };
  b.equal_transforms.clear();
  std::map<int32_t, TransformSharing> sharing;
  for (size_t i = 0; i < b.roles.size(); ++i) {
    const auto role = b.roles[i];
    if (role.kind == LinearKind::O || role.kind == LinearKind::Down) continue;
    const auto t = b.linears[i]->input_transform();
    if (!t.defined()) continue;
    const auto holder = sharing[group_of(role)].holder_of(t, linear_role_name(role));
    if (holder && !holder->transform.is_same(t)) b.equal_transforms.emplace_back(holder->transform, t);
  }
}

size_t Decoder::slot(int64_t layer, LinearRole role) const {
  const int64_t s = linear_slot(config_, layer, role);
  QS_ASSERT(s >= 0, "block " + std::to_string(layer) + " has no linear " + linear_role_name(role));
  return static_cast<size_t>(s);
}

torch::Tensor Decoder::apply_linear(int64_t layer, const Block& b, LinearRole role, const torch::Tensor& x,
                                    SharedInput* shared) const {
  const auto r = slot(layer, role);
  const auto& op = b.linears[r];
  torch::Tensor y;
  if (const auto t = shared ? op->input_transform() : torch::Tensor(); t.defined()) {
    if (!shared->transform.defined() || !b.same_transform(shared->transform, t)) *shared = {t, op->transform_input(x)};
    y = op->forward_transformed(shared->transformed, x);
  } else {
    y = op->forward(x);
  }
  if (!linear_hooks_.empty()) {
    const LinearSite site{layer, role, b.names[r]};
    for (const auto& [id, hook] : linear_hooks_) hook(site, x, y);
  }
  return y;
}

torch::Tensor Decoder::attention(int64_t layer, const Block& b, const torch::Tensor& x) {
  const auto& c = config_;
  const int64_t B = x.size(0), T = x.size(1), D = c.head_dim;
  SharedInput shared;
  auto q = apply_linear(layer, b, LinearRole::Q, x, &shared).view({B, T, c.num_heads, D});
  auto k = apply_linear(layer, b, LinearRole::K, x, &shared).view({B, T, c.num_kv_heads, D});
  auto v = apply_linear(layer, b, LinearRole::V, x, &shared).view({B, T, c.num_kv_heads, D}).transpose(1, 2);
  shared = {};  // T·x is not needed past the projections
  if (c.qk_norm) {
    q = rms_norm(q, b.q_norm);
    k = rms_norm(k, b.k_norm);
  }
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  auto [cos, sin] = (c.sliding(layer) && sliding_rope_ ? *sliding_rope_ : *rope_).get(T);
  q = apply_rope(q, cos, sin);
  k = apply_rope(k, cos, sin);
  if (c.num_kv_heads != c.num_heads) {
    // Expand K/V to every query head explicitly: the fused CPU attention kernel
    // does not take grouped heads, and this keeps one code path on all devices.
    const int64_t groups = c.num_heads / c.num_kv_heads;
    k = k.repeat_interleave(groups, 1);
    v = v.repeat_interleave(groups, 1);
  }
  const double scale =
      1.0 / std::sqrt(c.query_pre_attn_scalar > 0.0 ? c.query_pre_attn_scalar : static_cast<double>(D));
  auto o = c.attn_logit_softcapping > 0.0 || (c.sliding(layer) && T > c.sliding_window)
               ? masked_attention(layer, q, k, v, scale)
               : at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                                  /*is_causal=*/true, scale);
  o = o.transpose(1, 2).reshape({B, T, c.num_heads * D});
  return apply_linear(layer, b, LinearRole::O, o);
}

torch::Tensor Decoder::masked_attention(int64_t layer, const torch::Tensor& q, const torch::Tensor& k,
                                        const torch::Tensor& v, double scale) const {
  const int64_t T = q.size(2);
  const auto pos = torch::arange(T, torch::TensorOptions().device(q.device()).dtype(torch::kLong));
  const auto behind = pos.unsqueeze(1) - pos.unsqueeze(0);  // query position minus key position
  auto visible = behind.ge(0);
  if (config_.sliding(layer)) visible = visible.logical_and(behind.lt(config_.sliding_window));
  const double cap = config_.attn_logit_softcapping;
  if (cap <= 0.0)
    return at::scaled_dot_product_attention(q, k, v, visible, /*dropout_p=*/0.0, /*is_causal=*/false, scale);
  // Soft-capping sits between the product and the softmax, where no fused kernel reaches.
  auto scores = torch::matmul(q, k.transpose(-2, -1)) * scale;
  scores = torch::tanh(scores / cap) * cap;
  scores = scores.masked_fill(visible.logical_not(), -std::numeric_limits<double>::infinity());
  return torch::matmul(torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type()), v);
}

torch::Tensor Decoder::mlp(int64_t layer, const Block& b, const torch::Tensor& x, int32_t expert) const {
  SharedInput shared;
  auto gate = apply_linear(layer, b, {LinearKind::Gate, expert}, x, &shared);
  auto up = apply_linear(layer, b, {LinearKind::Up, expert}, x, &shared);
  shared = {};
  const auto act = config_.activation == Activation::GeluTanh ? torch::gelu(gate, "tanh") : torch::silu(gate);
  return apply_linear(layer, b, {LinearKind::Down, expert}, act * up);
}

std::pair<torch::Tensor, torch::Tensor> Decoder::route(const Block& b, const torch::Tensor& flat) const {
  // As transformers' Mixtral and Qwen MoE blocks route.
  const auto probs = torch::softmax(torch::linear(flat, b.router), -1, torch::kFloat32);
  auto [weights, chosen] = probs.topk(config_.experts_per_token, -1);
  if (config_.normalize_expert_weights) weights = weights / weights.sum(-1, /*keepdim=*/true);
  return {weights, chosen};
}

torch::Tensor Decoder::expert_choices(int64_t layer, const torch::Tensor& hidden) {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  touch(layer);
  const Block& b = blocks_[layer];
  if (!b.router.defined()) throw ArgumentError("block " + std::to_string(layer) + " is not a Mixture of Experts");
  const auto normed = rms_norm(attention_residual(layer, b, hidden), b.post_attention_norm);
  return route(b, normed.reshape({-1, normed.size(-1)})).second;
}

torch::Tensor Decoder::mlp_input(int64_t layer, const torch::Tensor& hidden) {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  touch(layer);
  const Block& b = blocks_[layer];
  return rms_norm(attention_residual(layer, b, hidden), b.post_attention_norm);
}

torch::Tensor Decoder::experts(int64_t layer, const Block& b, const torch::Tensor& x) const {
  const auto& c = config_;
  const auto flat = x.reshape({-1, x.size(-1)});
  const auto [weights, chosen] = route(b, flat);
  auto out = torch::zeros_like(flat);
  for (int32_t e = 0; e < static_cast<int32_t>(c.num_experts); ++e) {
    const auto hit = chosen.eq(e).nonzero();  // [n, 2]: token, rank
    if (hit.size(0) == 0 && !route_all_experts_) continue;
    const auto tokens = hit.select(1, 0);
    const auto w = weights.index({tokens, hit.select(1, 1)}).unsqueeze(1);
    // Routing all: every token through the expert for its statistics, the chosen ones' outputs kept.
    auto y = route_all_experts_ ? mlp(layer, b, flat, e).index_select(0, tokens)
                                : mlp(layer, b, flat.index_select(0, tokens), e);
    out.index_add_(0, tokens, (y.to(torch::kFloat32) * w).to(out.scalar_type()));
  }
  if (c.shared_expert_intermediate_size > 0)
    out = out +
          torch::sigmoid(torch::linear(flat, b.shared_expert_gate)) * mlp(layer, b, flat, LinearRole::kSharedExpert);
  return out.view(x.sizes());
}

torch::Tensor Decoder::embed(const torch::Tensor& ids) const {
  // An id past the vocabulary (a tokenizer that does not belong to the model)
  // would otherwise surface as libtorch's "index out of range in self".
  if (ids.numel() > 0) {
    const auto [lo, hi] = torch::aminmax(ids);
    if (lo.item<int64_t>() < 0 || hi.item<int64_t>() >= config_.vocab_size)
      throw ArgumentError("token id " +
                          std::to_string(lo.item<int64_t>() < 0 ? lo.item<int64_t>() : hi.item<int64_t>()) +
                          " is outside the model's vocabulary of " + std::to_string(config_.vocab_size) +
                          " (is the tokenizer the model's own?)");
  }
  place_vocab_matrices();
  torch::Tensor rows;
  if (embed_tokens_.defined()) {
    rows = torch::embedding(embed_tokens_, ids.to(device_, torch::kLong)).to(dtype_);
    io::release_mapped_pages(embed_tokens_);
  } else {
    rows = embed_deferred(ids).to(device_, dtype_);
  }
  // Gemma's factor is rounded to the model's dtype first, as transformers does.
  if (config_.scale_embedding)
    rows = rows * torch::scalar_tensor(std::sqrt(static_cast<double>(config_.hidden_size))).to(dtype_);
  return rows;
}

torch::Tensor Decoder::embed_deferred(const torch::Tensor& ids) const {
  const auto flat = ids.to(torch::kCPU, torch::kLong).flatten();
  const auto [tokens, inverse] = at::_unique(flat, /*sorted=*/true, /*return_inverse=*/true);
  std::vector<torch::Tensor> rows;
  rows.reserve(static_cast<size_t>(tokens.numel()));
  const auto* t = tokens.data_ptr<int64_t>();
  for (int64_t i = 0; i < tokens.numel(); ++i) rows.push_back(embed_rows_.decode_rows(t[i], 1));
  auto shape = ids.sizes().vec();
  shape.push_back(config_.hidden_size);
  return torch::cat(rows, 0).index_select(0, inverse.flatten()).reshape(shape);
}

void Decoder::set_resident_blocks(int64_t blocks) {
  const bool was_unlimited = resident_limit_ == 0;
  resident_limit_ = std::max<int64_t>(0, blocks);
  embed_tokens_ = torch::Tensor();
  lm_head_ = torch::Tensor();
  vocab_placed_ = false;
  // Blocks used while every block stayed were not tracked; none is kept.
  if (was_unlimited && resident_limit_ != 0)
    for (const auto& b : blocks_)
      for (const auto& op : b.linears) op->release();
  evict_beyond_limit();
}

void Decoder::touch(int64_t layer) const {
  if (resident_limit_ == 0 || (!resident_.empty() && resident_.front() == layer)) return;
  resident_.remove(layer);
  resident_.push_front(layer);
  evict_beyond_limit();
}

void Decoder::evict_beyond_limit() const {
  if (resident_limit_ == 0) return;
  while (static_cast<int64_t>(resident_.size()) > resident_limit_) {
    for (const auto& op : blocks_[static_cast<size_t>(resident_.back())].linears) op->release();
    resident_.pop_back();
  }
}

torch::Tensor Decoder::run_block(int64_t layer, const torch::Tensor& hidden) {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  touch(layer);
  const Block& b = blocks_[layer];
  const auto h = attention_residual(layer, b, hidden);
  const auto normed = rms_norm(h, b.post_attention_norm);
  auto m = b.router.defined() ? experts(layer, b, normed) : mlp(layer, b, normed);
  if (b.mlp_out_norm.defined()) m = rms_norm(m, b.mlp_out_norm);
  auto out = h + m;
  for (const auto& [id, hook] : block_hooks_) hook(layer, hidden, out);
  return out;
}

torch::Tensor Decoder::attention_residual(int64_t layer, const Block& b, const torch::Tensor& hidden) {
  auto a = attention(layer, b, rms_norm(hidden, b.input_norm));
  if (b.attention_out_norm.defined()) a = rms_norm(a, b.attention_out_norm);
  return hidden + a;
}

torch::Tensor Decoder::head(const torch::Tensor& hidden) const {
  return logits(final_hidden(hidden)).to(torch::kFloat32);
}

torch::Tensor Decoder::logits(const torch::Tensor& normed) const {
  auto out = unscaled_logits(normed);
  if (const double cap = config_.final_logit_softcapping; cap > 0.0) out = torch::tanh(out / cap) * cap;
  return out;
}

torch::Tensor Decoder::unscaled_logits(const torch::Tensor& normed) const {
  place_vocab_matrices();
  if (lm_head_.defined() && lm_head_.scalar_type() == normed.scalar_type()) return torch::linear(normed, lm_head_);
  std::vector<torch::Tensor> parts;
  const int64_t vocab = config_.vocab_size;
  for (int64_t r = 0; r < vocab; r += kHeadChunkRows) {
    const int64_t n = std::min(kHeadChunkRows, vocab - r);
    const auto w = lm_head_.defined() ? lm_head_.narrow(0, r, n) : lm_head_rows_.decode_rows(r, n);
    parts.push_back(torch::linear(normed, w.to(normed.device(), normed.scalar_type())));
  }
  if (lm_head_.defined()) io::release_mapped_pages(lm_head_);
  return torch::cat(parts, -1);
}

torch::Tensor Decoder::final_hidden(const torch::Tensor& hidden) const { return rms_norm(hidden, final_norm_); }

torch::Tensor Decoder::forward(const torch::Tensor& ids) { return forward_tail(ids, 0); }

torch::Tensor Decoder::forward_tail(const torch::Tensor& ids, int64_t from) {
  if (ids.dim() != 2) throw ArgumentError("Decoder::forward: ids must be [batch, tokens]");
  if (from < 0 || from >= ids.size(1))
    throw ArgumentError("Decoder::forward_tail: position " + std::to_string(from) + " outside a window of " +
                        std::to_string(ids.size(1)));
  torch::NoGradGuard no_grad;
  const auto h = last_hidden(ids);
  return logits(h.narrow(1, from, h.size(1) - from)).to(torch::kFloat32);
}

torch::Tensor Decoder::last_hidden(const torch::Tensor& ids) {
  auto h = embed(ids);
  for (int64_t l = 0; l < num_layers(); ++l) h = run_block(l, h);
  return final_hidden(h);
}

torch::Tensor Decoder::apply_norm(int64_t layer, NormRole role, const torch::Tensor& x) const {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  const Block& b = blocks_[layer];
  return rms_norm(x, role == NormRole::Input ? b.input_norm : b.post_attention_norm);
}

torch::Tensor Decoder::run_attention(int64_t layer, const torch::Tensor& normed) {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  touch(layer);
  return attention(layer, blocks_[layer], normed);
}

torch::Tensor Decoder::run_mlp(int64_t layer, const torch::Tensor& normed) const {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  touch(layer);
  const Block& b = blocks_[layer];
  return b.router.defined() ? experts(layer, b, normed) : mlp(layer, b, normed);
}

torch::Tensor Decoder::norm_weight(int64_t layer, NormRole role) const {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  const Block& b = blocks_[layer];
  return norm_factor(config_, role == NormRole::Input ? b.input_norm : b.post_attention_norm);
}

std::string Decoder::norm_name(int64_t layer, NormRole role) const { return model::norm_name(config_, layer, role); }

std::vector<std::pair<std::string, torch::Tensor>> Decoder::stored_block_tensors(int64_t layer) const {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  const Block& b = blocks_[layer];
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  std::vector<std::pair<std::string, torch::Tensor>> out = {
      {norm_name(layer, NormRole::Input), b.input_norm},
      {norm_name(layer, NormRole::PostAttention), b.post_attention_norm}};
  if (b.attention_out_norm.defined()) out.emplace_back(p + "post_attention_layernorm.weight", b.attention_out_norm);
  if (b.mlp_out_norm.defined()) out.emplace_back(p + "post_feedforward_layernorm.weight", b.mlp_out_norm);
  if (b.q_norm.defined()) out.emplace_back(p + "self_attn.q_norm.weight", b.q_norm);
  if (b.k_norm.defined()) out.emplace_back(p + "self_attn.k_norm.weight", b.k_norm);
  if (b.router.defined()) out.emplace_back(p + "mlp.gate.weight", b.router);
  if (b.shared_expert_gate.defined()) out.emplace_back(p + "mlp.shared_expert_gate.weight", b.shared_expert_gate);
  return out;
}

void Decoder::set_norm_weight(int64_t layer, NormRole role, const torch::Tensor& weight) {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  Block& b = blocks_[layer];
  auto& slot = role == NormRole::Input ? b.input_norm : b.post_attention_norm;
  if (weight.sizes() != slot.sizes())
    throw ArgumentError("Decoder::set_norm_weight: layer " + std::to_string(layer) + " norm has the wrong shape");
  slot = (config_.norm_plus_one ? weight.to(torch::kFloat32) - 1.0 : weight).to(device_, dtype_).contiguous();
}

BlockState Decoder::block_state(int64_t layer) const {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  touch(layer);
  const Block& b = blocks_[layer];
  return {b.input_norm, b.post_attention_norm, b.linears, b.router, b.shared_expert_gate};
}

void Decoder::restore_block_state(int64_t layer, const BlockState& state) {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  Block& b = blocks_[layer];
  b.input_norm = state.input_norm;
  b.post_attention_norm = state.post_attention_norm;
  QS_ASSERT(state.linears.size() == b.linears.size(), "block state of another block");
  b.linears = state.linears;
  b.router = state.router;
  b.shared_expert_gate = state.shared_expert_gate;
  match_transforms(b);
}

std::shared_ptr<const LinearOp> Decoder::linear(int64_t layer, LinearRole role) const {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  touch(layer);
  return blocks_[layer].linears[slot(layer, role)];
}

torch::Tensor Decoder::router_weight(int64_t layer) const {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  return blocks_[layer].router;
}

torch::Tensor Decoder::shared_expert_gate(int64_t layer) const {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  return blocks_[layer].shared_expert_gate;
}

void Decoder::set_router(int64_t layer, const torch::Tensor& router, const torch::Tensor& shared_expert_gate) {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  Block& b = blocks_[layer];
  const auto replace = [&](torch::Tensor& slot, const torch::Tensor& w, const char* what) {
    if (slot.defined() != w.defined() || (w.defined() && w.sizes() != slot.sizes()))
      throw ArgumentError("Decoder::set_router: layer " + std::to_string(layer) + " " + what + " has the wrong shape");
    if (w.defined()) slot = w.to(device_, dtype_).contiguous();
  };
  replace(b.router, router, "router");
  replace(b.shared_expert_gate, shared_expert_gate, "shared-expert gate");
}

void Decoder::set_linear(int64_t layer, LinearRole role, std::shared_ptr<const LinearOp> op) {
  QS_ASSERT(layer >= 0 && layer < num_layers(), "layer index out of range");
  auto& current = blocks_[layer].linears[slot(layer, role)];
  if (!op || op->in_features() != current->in_features() || op->out_features() != current->out_features())
    throw ArgumentError("Decoder::set_linear: " + linear_name(layer, role) + " replacement has the wrong shape");
  current = std::move(op);
  match_transforms(blocks_[layer]);
}

HookId Decoder::add_linear_hook(LinearHook hook) {
  linear_hooks_.emplace(next_hook_id_, std::move(hook));
  return next_hook_id_++;
}

HookId Decoder::add_block_hook(BlockHook hook) {
  block_hooks_.emplace(next_hook_id_, std::move(hook));
  return next_hook_id_++;
}

void Decoder::remove_hook(HookId id) {
  linear_hooks_.erase(id);
  block_hooks_.erase(id);
}

}  // namespace qs::model
