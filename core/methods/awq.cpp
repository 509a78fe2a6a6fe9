#include "core/methods/awq.h"

#include <cmath>
#include <limits>
#include <optional>

#include "core/error.h"
#include "core/methods/block_context.h"
#include "core/methods/lwc.h"
#include "core/quant/uniform_quantizer.h"

namespace qs::methods {

using model::LinearRole;
using model::NormRole;

std::vector<quant::ParamSpec> AwqMethod::param_specs() const {
  std::vector<quant::ParamSpec> specs = {
      {"n_grid", int64_t{20}, "scale exponents tried: 0, 1/n, ..., (n-1)/n", 1, 1000, {}},
      {"duo_scaling", false, "AutoAWQ's s = mean|x|^a / mean|w|^(1-a)", 0, 0, {}},
      {"auto_clip", true, "search a per-group clipping bound after scaling", 0, 0, {}},
      {"clip_max_shrink", 0.5, "largest fraction of the range the clip search removes", 0.0, 0.95, {}},
      {"clip_grid", int64_t{20}, "clip search steps over the full range", 1, 1000, {}},
      {"clip_tokens", int64_t{512}, "input rows sub-sampled for the clip search", 1, 1 << 20, {}},
      {"quantizer",
       std::string("rtn"),
       "how the scaled (and clipped) weights are rounded: rtn as llm-awq, or lwc, OmniQuant's learnable clipping "
       "trained on the block output from there",
       0,
       0,
       {"rtn", "lwc"}},
  };
  for (auto spec : training_param_specs()) {
    spec.help = "quantizer lwc: " + spec.help;
    specs.push_back(std::move(spec));
  }
  return specs;
}

bool AwqMethod::uses_fp_trajectory(const quant::MethodParams& params) const {
  return params.get_string("quantizer") == "lwc";
}

namespace {

enum class Inspect { Attention, Mlp, Linear };

struct Pair {
  std::string label;
  std::optional<NormRole> prev_norm;
  std::optional<LinearRole> prev_linear;
  std::vector<LinearRole> layers;
  Inspect inspect;
  bool needs_same_shape = false;  // v -> o: v's outputs must be o's inputs one for one
  // The norm also feeds an MoE block's router (and shared-expert gate): they
  // take the scale too, so routing is unchanged (AutoAWQ scales Mixtral's gate).
  bool scales_router = false;
};

// llm-awq's pairs for a Llama block; in an MoE block (AutoAWQ's Mixtral and
// Qwen-MoE recipes) the norm in front of the MLP scales every expert's gate
// and up with the router, and each expert's up scales its own down.
std::vector<Pair> block_pairs(const model::ModelConfig& c, int64_t layer) {
  std::vector<Pair> pairs = {
      {"input_layernorm -> q,k,v",
       NormRole::Input,
       std::nullopt,
       {LinearRole::Q, LinearRole::K, LinearRole::V},
       Inspect::Attention},
      {"v_proj -> o_proj", std::nullopt, LinearRole::V, {LinearRole::O}, Inspect::Linear, true},
  };
  if (!c.moe(layer)) {
    pairs.push_back({"post_attention_layernorm -> gate,up",
                     NormRole::PostAttention,
                     std::nullopt,
                     {LinearRole::Gate, LinearRole::Up},
                     Inspect::Mlp});
    pairs.push_back({"up_proj -> down_proj", std::nullopt, LinearRole::Up, {LinearRole::Down}, Inspect::Linear});
    return pairs;
  }
  std::vector<int32_t> experts;
  for (int32_t e = 0; e < static_cast<int32_t>(c.num_experts); ++e) experts.push_back(e);
  if (c.shared_expert_intermediate_size > 0) experts.push_back(LinearRole::kSharedExpert);
  Pair in{"post_attention_layernorm -> experts' gate,up and the router",
          NormRole::PostAttention,
          std::nullopt,
          {},
          Inspect::Mlp};
  in.scales_router = true;
  for (int32_t e : experts) {
    in.layers.push_back({model::LinearKind::Gate, e});
    in.layers.push_back({model::LinearKind::Up, e});
  }
  pairs.push_back(std::move(in));
  for (int32_t e : experts) {
    const LinearRole up{model::LinearKind::Up, e}, down{model::LinearKind::Down, e};
    pairs.push_back({model::linear_role_name(up) + " -> down_proj", std::nullopt, up, {down}, Inspect::Linear});
  }
  return pairs;
}

// The linear whose captured input feeds every linear of the pair (an MoE
// block's MLP input is taken whole instead: see quantize_block).
LinearRole input_role(const Pair& p) { return p.layers.front(); }

class ScaleSearch {
 public:
  ScaleSearch(methods::BlockContext& ctx, const Pair& pair, const torch::Tensor& x) : ctx_(ctx), pair_(pair), x_(x) {}

  torch::Tensor module_out() {
    auto& dec = ctx_.decoder();
    const int64_t layer = ctx_.layer();
    switch (pair_.inspect) {
      case Inspect::Attention:
        return ctx_.map_batches(x_, [&](const torch::Tensor& b) { return dec.run_attention(layer, b); });
      case Inspect::Mlp:
        return ctx_.map_batches(x_, [&](const torch::Tensor& b) { return dec.run_mlp(layer, b); });
      case Inspect::Linear: {
        auto op = dec.linear(layer, pair_.layers.front());
        return ctx_.map_batches(x_, [&](const torch::Tensor& b) { return op->forward(b); });
      }
    }
    return {};
  }

  // Best scale over the grid of exponents; `duo` adds AutoAWQ's weight term.
  torch::Tensor run(int64_t n_grid, bool duo) {
    torch::NoGradGuard no_grad;
    auto& dec = ctx_.decoder();
    const int64_t layer = ctx_.layer();
    const auto org_out = pair_.inspect == Inspect::Linear ? torch::Tensor() : module_out().to(torch::kFloat32);
    const auto x_mean = x_.abs().reshape({-1, x_.size(-1)}).to(torch::kFloat32).mean(0);
    torch::Tensor w_mean;
    if (duo) w_mean = weight_mean();
    std::map<LinearRole, std::shared_ptr<const model::LinearOp>> saved;
    std::map<LinearRole, torch::Tensor> weights;
    for (auto r : pair_.layers) {
      saved[r] = dec.linear(layer, r);
      weights[r] = ctx_.weight(r);
    }
    // A lone linear's output error is a quadratic form of its weight error:
    // ‖x ΔWᵀ‖² = tr(ΔW G ΔWᵀ) with G = xᵀx, so each candidate costs an
    // [out, in]·[in, in] product instead of a pass over every token.
    torch::Tensor gram;
    double gram_rows = 0.0;
    if (pair_.inspect == Inspect::Linear) {
      auto x2 = x_.reshape({-1, x_.size(-1)}).to(torch::kFloat32);
      gram = torch::matmul(x2.t(), x2);
      gram_rows = static_cast<double>(x2.size(0));
    }
    double best = std::numeric_limits<double>::infinity();
    torch::Tensor best_scales;
    for (int64_t i = 0; i < n_grid; ++i) {
      ctx_.check_cancelled();
      const double ratio = static_cast<double>(i) / static_cast<double>(n_grid);
      auto s = duo ? (x_mean.pow(ratio) / (w_mean.pow(1.0 - ratio) + 1e-4)).clamp_min(1e-4)
                   : x_mean.pow(ratio).clamp_min(1e-4);
      s = s / (s.max() * s.min()).sqrt();
      double loss = 0.0;
      if (gram.defined()) {
        const auto r = pair_.layers.front();
        if (ctx_.is_assigned(r)) {  // a layer kept in FP is scored in FP: no error
          auto dw = quant::fake_quantize(weights[r] * s, ctx_.spec(r)) / s - weights[r];
          loss = (torch::matmul(dw, gram) * dw).sum().item<double>() / (gram_rows * static_cast<double>(dw.size(0)));
        }
      } else {
        for (auto r : pair_.layers) {
          if (!ctx_.is_assigned(r)) continue;
          auto wq = quant::fake_quantize(weights[r] * s, ctx_.spec(r)) / s;
          dec.set_linear(layer, r,
                         std::make_shared<model::DenseLinear>(wq.to(ctx_.device(), ctx_.dtype()), saved[r]->bias()));
        }
        loss = (module_out().to(torch::kFloat32) - org_out).pow(2).mean().item<double>();
        for (auto& [r, op] : saved) dec.set_linear(layer, r, op);
      }
      if (!std::isfinite(loss)) continue;
      if (loss < best) {
        best = loss;
        best_scales = s;
        best_ratio_ = ratio;
      }
    }
    if (!best_scales.defined())
      throw Error("AWQ: every scale candidate gave a non-finite error in " +
                  model::linear_name(layer, pair_.layers.front()));
    best_loss_ = best;
    return best_scales;
  }

  double best_ratio() const { return best_ratio_; }
  double best_loss() const { return best_loss_; }

 private:
  // AutoAWQ: |w| normalised by its group's max, averaged over output rows.
  torch::Tensor weight_mean() {
    std::vector<torch::Tensor> ws;
    for (auto r : pair_.layers) ws.push_back(ctx_.weight(r));
    auto w = torch::cat(ws, 0);
    const int64_t in = w.size(1);
    const int64_t g = ctx_.spec(pair_.layers.front()).effective_group(in);
    auto wg = quant::pad_to_groups(w, g).reshape({-1, g}).abs();
    wg = wg / (std::get<0>(wg.max(1, true)) + 1e-6);
    return wg.reshape({w.size(0), -1}).narrow(1, 0, in).mean(0);
  }

  methods::BlockContext& ctx_;
  const Pair& pair_;
  torch::Tensor x_;
  double best_ratio_ = 0.0;
  double best_loss_ = 0.0;
};

bool pair_applies(methods::BlockContext& ctx, const Pair& p, std::string& why_not) {
  bool any_assigned = false;
  for (auto r : p.layers) {
    if (ctx.is_quantized(r)) {
      why_not = std::string(model::linear_role_name(r)) + " is already quantized";
      return false;
    }
    any_assigned |= ctx.is_assigned(r);
  }
  if (!any_assigned) {
    why_not = "no linear of the pair is assigned to AWQ";
    return false;
  }
  if (p.prev_linear) {
    if (ctx.is_quantized(*p.prev_linear)) {
      why_not = std::string(model::linear_role_name(*p.prev_linear)) + " is already quantized";
      return false;
    }
    if (p.needs_same_shape && ctx.weight(*p.prev_linear).sizes() != ctx.weight(p.layers.front()).sizes()) {
      why_not = "shapes differ (grouped-query attention)";
      return false;
    }
  }
  return true;
}

void apply_scale(methods::BlockContext& ctx, const Pair& p, const torch::Tensor& s) {
  if (p.prev_norm) ctx.set_norm_weight(*p.prev_norm, ctx.norm_weight(*p.prev_norm) / s);
  if (p.scales_router) {
    const auto shared = ctx.shared_expert_gate();
    ctx.set_router(ctx.router_weight() * s, shared.defined() ? shared * s : shared);
  }
  if (p.prev_linear) {
    const auto r = *p.prev_linear;
    auto b = ctx.bias(r);
    ctx.set_weight(r, ctx.weight(r) / s.unsqueeze(1), b.defined() ? b.to(torch::kFloat32) / s : b);
  }
  for (auto r : p.layers) ctx.set_weight(r, ctx.weight(r) * s);
}

}  // namespace

torch::Tensor awq_clip_bounds(const torch::Tensor& w, const torch::Tensor& x, const quant::QuantSpec& spec,
                              const AwqClipOptions& o) {
  torch::NoGradGuard no_grad;
  const int64_t out = w.size(0), in = w.size(1);
  const int64_t g = spec.effective_group(in), ng = spec.num_groups(in), padded = ng * g;
  auto xf = x.reshape({-1, in}).to(torch::kFloat32);
  const int64_t stride = std::max<int64_t>(1, xf.size(0) / o.n_tokens);
  auto xs = xf.slice(0, 0, xf.size(0), stride);
  // A short last group is padded: zero inputs, so the repeated weight column adds nothing.
  if (padded != in) xs = torch::cat({xs, torch::zeros({xs.size(0), padded - in}, xs.options())}, 1);
  auto xg = xs.reshape({xs.size(0), ng, g}).permute({1, 0, 2}).contiguous();  // [ng, tokens, g]
  auto wp = quant::pad_to_groups(w.to(torch::kFloat32), g);
  quant::QuantSpec plain = spec;
  plain.clip_ratio = 1.0;
  const int64_t oc_batch = out % 256 == 0 ? 256 : 64;
  const int64_t steps = static_cast<int64_t>(o.max_shrink * static_cast<double>(o.n_grid));
  std::vector<torch::Tensor> bounds;
  for (int64_t r0 = 0; r0 < out; r0 += oc_batch) {
    const int64_t ob = std::min(oc_batch, out - r0);
    auto wb = wp.narrow(0, r0, ob).reshape({ob, ng, g});
    auto org_max = std::get<0>(wb.abs().max(-1, /*keepdim=*/true));  // [ob, ng, 1]
    auto org_out = torch::bmm(xg, wb.permute({1, 2, 0}));            // [ng, tokens, ob]
    auto best = org_max.clone();
    auto min_err = torch::full_like(org_max, std::numeric_limits<float>::infinity());
    for (int64_t i = 0; i < steps; ++i) {
      auto max_val = org_max * (1.0 - static_cast<double>(i) / static_cast<double>(o.n_grid));
      auto cur = torch::max(torch::min(wb, max_val), -max_val);
      auto qw = quant::fake_quantize(cur.reshape({ob, padded}), plain).reshape({ob, ng, g});
      auto err = (torch::bmm(xg, qw.permute({1, 2, 0})) - org_out).pow(2).mean(1);  // [ng, ob]
      err = err.t().unsqueeze(-1);
      auto better = err < min_err;
      min_err = torch::where(better, err, min_err);
      best = torch::where(better, max_val, best);
    }
    bounds.push_back(best.squeeze(-1));
  }
  return torch::cat(bounds, 0);
}

void AwqMethod::quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const {
  const int64_t layer = ctx.layer();
  const auto& config = ctx.decoder().config();
  const bool moe = config.moe(layer);
  const auto pairs = block_pairs(config, layer);
  // Each pair's input and each linear's for the clip search; an expert's hold
  // only the tokens routed to it.
  std::vector<LinearRole> captured = {LinearRole::Q, LinearRole::O};
  for (const auto& pair : pairs)
    if (pair.prev_linear && pair.prev_linear->in_mlp()) {
      captured.push_back({model::LinearKind::Gate, pair.prev_linear->expert});
      captured.push_back(pair.layers.front());
    }
  std::map<LinearRole, torch::Tensor> feats = ctx.capture_inputs(captured);
  // An MoE block's experts each see some tokens; the scale in front of them
  // all is searched on the MLP's whole input.
  torch::Tensor mlp_input;
  if (moe) {
    torch::NoGradGuard no_grad;
    mlp_input =
        ctx.map_batches(ctx.inputs(), [&](const torch::Tensor& b) { return ctx.decoder().mlp_input(layer, b); });
  }
  std::map<LinearRole, torch::Tensor> input_scales;
  std::vector<std::string> unreached;
  int64_t experts_scaled = 0;
  for (const auto& pair : pairs) {
    std::string why_not;
    if (!pair_applies(ctx, pair, why_not)) {
      if (why_not.find("assigned") == std::string::npos)
        ctx.feedback().log("AWQ layer " + std::to_string(layer) + ": " + pair.label + " not scaled: " + why_not);
      continue;
    }
    const bool expert_pair = pair.prev_linear && pair.prev_linear->expert != LinearRole::kNoExpert;
    torch::Tensor* x = pair.scales_router ? &mlp_input : nullptr;
    if (!x) {
      const auto it = feats.find(input_role(pair));
      if (it == feats.end() || it->second.size(0) == 0) {
        unreached.push_back(model::linear_role_name(pair.layers.front()));
        continue;
      }
      x = &it->second;
    }
    ScaleSearch search(ctx, pair, *x);
    auto s = search.run(params.get_int("n_grid"), params.get_bool("duo_scaling"));
    apply_scale(ctx, pair, s);
    *x = *x / s.to(x->scalar_type());
    // The experts' own inputs are the same rows of the MLP input, scaled alike.
    for (auto r : pair.layers)
      if (auto f = feats.find(r); f != feats.end() && &f->second != x)
        f->second = f->second / s.to(f->second.scalar_type());
    for (auto r : pair.layers) input_scales[r] = s;
    if (expert_pair) {
      ++experts_scaled;
      continue;
    }
    ctx.feedback().log("AWQ layer " + std::to_string(layer) + ": " + pair.label + " ratio " +
                       std::to_string(search.best_ratio()).substr(0, 4) + " loss " +
                       std::to_string(search.best_loss()));
  }
  if (moe) {
    std::string line = "AWQ layer " + std::to_string(layer) + ": up_proj -> down_proj scaled in " +
                       std::to_string(experts_scaled) + " experts";
    if (!unreached.empty()) {
      line += "; no calibration token reached";
      for (const auto& name : unreached) line += " " + name;
      line += " (rounded without a scale or clip search)";
    }
    ctx.feedback().log(line);
  }

  AwqClipOptions clip;
  clip.n_grid = params.get_int("clip_grid");
  clip.max_shrink = params.get_double("clip_max_shrink");
  clip.n_tokens = params.get_int("clip_tokens");
  // The input a linear's clip search scores on; none for an expert no token reached.
  auto feature_of = [&](LinearRole r) -> const torch::Tensor* {
    LinearRole key = r;
    if (r == LinearRole::K || r == LinearRole::V) key = LinearRole::Q;
    if (r.kind == model::LinearKind::Up) key = {model::LinearKind::Gate, r.expert};
    const auto it = feats.find(key);
    return it == feats.end() || it->second.size(0) == 0 ? nullptr : &it->second;
  };
  std::map<LinearRole, torch::Tensor> weights;
  for (auto r : ctx.assigned()) {
    ctx.check_cancelled();
    auto w = ctx.weight(r);
    // Clipping q and k hurts: their errors are amplified by the softmax (official code skips them).
    const auto* feature = feature_of(r);
    if (params.get_bool("auto_clip") && r != LinearRole::Q && r != LinearRole::K && feature) {
      const auto bounds = awq_clip_bounds(w, *feature, ctx.spec(r), clip);
      const int64_t in = w.size(1), g = ctx.spec(r).effective_group(in);
      auto b = quant::expand_groups(bounds, g, in);
      w = torch::max(torch::min(w, b), -b);
    }
    weights.emplace(r, w.to(torch::kFloat32));
  }
  feats.clear();
  std::map<LinearRole, quant::QuantizedLinear> records;
  if (params.get_string("quantizer") == "lwc") {
    records = train_clipping(ctx, weights, params, "awq+lwc");
  } else {
    for (const auto& [r, w] : weights) records.emplace(r, quant::QuantizedLinear::round_to_nearest(w, ctx.spec(r)));
  }
  for (auto& [r, q] : records) {
    if (auto it = input_scales.find(r); it != input_scales.end()) q.input_scale = it->second.to(torch::kCPU);
    ctx.commit(r, std::move(q));
  }
}

}  // namespace qs::methods
