#include "core/methods/affinequant.h"

#include <map>

#include "core/analysis/layer_analysis.h"
#include "core/error.h"
#include "core/methods/affine_fold.h"
#include "core/methods/block_training.h"
#include "core/methods/learnable_clipping.h"
#include "core/methods/lwc.h"
#include "core/methods/block_context.h"
#include "core/quant/input_transform.h"

namespace qs::methods {

using model::LinearRole;

namespace {

// SmoothQuant's per-channel scale max|x|^α / max|w|^(1−α).
torch::Tensor smooth_scale(const torch::Tensor& act_max, const torch::Tensor& weight_max, double alpha) {
  return (act_max.clamp_min(1e-5).pow(alpha) / weight_max.clamp_min(1e-5).pow(1.0 - alpha)).clamp_min(1e-5);
}

// The weight side of the diagonal initialisation. "official": the signed
// column max of the lead linear alone (q_proj, up_proj, o_proj), as the
// official code computes it; "abs": the largest |W| over every linear the
// transform feeds, as SmoothQuant.
torch::Tensor init_weight_max(const std::map<LinearRole, torch::Tensor>& w, LinearRole lead,
                              std::initializer_list<LinearRole> fed, const std::string& init) {
  if (init == "official") return w.at(lead).amax(0);
  torch::Tensor m;
  for (auto r : fed) {
    const auto c = w.at(r).abs().amax(0);
    m = m.defined() ? torch::maximum(m, c) : c;
  }
  return m;
}

// Reports a transform that lost strict diagonal dominance; throws when it
// cannot be inverted at all.
void check_invertible(const torch::Tensor& a, const std::string& site, methods::BlockContext& ctx) {
  const std::string where = "AffineQuant: layer " + std::to_string(ctx.layer()) + "'s " + site + " transform";
  if (a.dim() == 1) {
    if (!(a.abs() > 0).all().item<bool>()) throw Error(where + " has a zero scale; lower let_lr");
    return;
  }
  if (const auto rows = non_dominant_rows(a); rows.numel() > 0)
    ctx.feedback().log(where + " is not strictly diagonally dominant in " + std::to_string(rows.numel()) + " of " +
                       std::to_string(a.numel() / a.size(-1)) + " rows (first: " +
                       std::to_string(rows[0].item<int64_t>()) +
                       "), so its invertibility is not guaranteed (Lévy–Desplanques); a smaller stability factor or "
                       "let_lr keeps it dominant");
  const auto eye = torch::eye(a.size(-1), a.options()).expand_as(a);
  bool finite = false;
  try {
    finite = torch::isfinite(torch::linalg_solve(a, eye)).all().item<bool>();
  } catch (const c10::Error&) {
  }
  if (!finite) throw Error(where + " cannot be inverted; lower let_lr or the stability factor");
}

}  // namespace

std::vector<quant::ParamSpec> AffineQuantMethod::param_specs() const {
  auto specs = training_param_specs();
  specs.push_back({"let_lr", 5e-3, "AdamW learning rate of the affine transforms", 0.0, 10.0, {}});
  specs.push_back({"alpha", 0.5, "SmoothQuant migration strength of the transforms' diagonal initialisation", 0.0,
                   1.0, {}});
  specs.push_back({"init",
                   std::string("official"),
                   "weight maxima of the diagonal initialisation: official: the signed column max of q_proj, up_proj "
                   "and o_proj alone, as the official code; abs: max |W| over every linear a transform feeds, as "
                   "SmoothQuant",
                   0,
                   0,
                   {"official", "abs"}});
  specs.push_back({"ln_matrix", true,
                   "a dense matrix after each RMSNorm, kept as the linears' input transform (off: diagonal scales "
                   "folded into the norms)",
                   0, 0, {}});
  specs.push_back({"least_entry",
                   1e-2,
                   "the least magnitude a non-zero transform entry keeps, restored before each step as the official "
                   "code does, so no scale crosses zero (0: off)",
                   0.0,
                   1.0,
                   {}});
  specs.push_back({"stability", 1e-2, "weight of the off-diagonal entries the gradual mask frees", 0.0, 1.0, {}});
  specs.push_back({"lwc", true, "learn OmniQuant's clipping factors together with the transforms", 0, 0, {}});
  specs.push_back({"shifts",
                   true,
                   "learn channel shifts with the transforms, as the official code does; they end as biases of "
                   "q/k/v/o/gate/up",
                   0,
                   0,
                   {}});
  return specs;
}

void AffineQuantMethod::quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const {
  auto options = default_training(ctx, params.get_int("epochs"), params.get_string("aug_loss"),
                                  params.get_int("batch"), name());
  const auto& cfg = ctx.decoder().config();
  const auto dev = ctx.device();
  const bool matrix = params.get_bool("ln_matrix");
  const double alpha = params.get_double("alpha"), stability = params.get_double("stability");
  const auto init = params.get_string("init");
  // A transform needs every linear it couples.
  const bool qkv = ctx.is_assigned(LinearRole::Q) && ctx.is_assigned(LinearRole::K) && ctx.is_assigned(LinearRole::V);
  const bool mlp_in = ctx.is_assigned(LinearRole::Gate) && ctx.is_assigned(LinearRole::Up);
  bool vo = ctx.is_assigned(LinearRole::V) && ctx.is_assigned(LinearRole::O);
  if (vo && ctx.bias(LinearRole::V).defined()) {
    vo = false;
    ctx.feedback().log("AffineQuant: layer " + std::to_string(ctx.layer()) +
                       ": v_proj has a bias, so the value transform is left out");
  }

  std::map<LinearRole, torch::Tensor> w;
  for (auto r : ctx.assigned()) w[r] = ctx.weight(r).to(dev);
  std::vector<LinearRole> probes;
  if (qkv) probes.push_back(LinearRole::Q);
  if (mlp_in) probes.push_back(LinearRole::Gate);
  if (vo) probes.push_back(LinearRole::O);
  std::map<LinearRole, analysis::ChannelStats> stats;
  if (!probes.empty()) ctx.for_each_input(probes, [&](LinearRole r, const torch::Tensor& x) { stats[r].add(x); });

  std::vector<torch::Tensor> let, clipping, scales;
  const auto leaf = [&let, dev](const torch::Tensor& t) {
    auto p = t.to(dev, torch::kFloat32).detach().clone().requires_grad_(true);
    let.push_back(p);
    return p;
  };
  torch::Tensor a1, a2, a3;
  if (qkv) {
    const auto s =
        smooth_scale(stats[LinearRole::Q].abs_max().to(dev),
                     init_weight_max(w, LinearRole::Q, {LinearRole::Q, LinearRole::K, LinearRole::V}, init), alpha);
    a1 = leaf(matrix ? torch::diag(s) : s);
    scales.push_back(a1);
  }
  if (mlp_in) {
    const auto s = smooth_scale(stats[LinearRole::Gate].abs_max().to(dev),
                                init_weight_max(w, LinearRole::Up, {LinearRole::Gate, LinearRole::Up}, init), alpha);
    a2 = leaf(matrix ? torch::diag(s) : s);
    scales.push_back(a2);
  }
  if (vo) {
    // o_proj's input channels, reduced over the query heads sharing a KV head.
    const int64_t kv = cfg.num_kv_heads, groups = cfg.num_heads / cfg.num_kv_heads, d = cfg.head_dim;
    const auto act = stats[LinearRole::O].abs_max().to(dev).reshape({kv, groups, d}).amax(1);
    const auto wmax = init_weight_max(w, LinearRole::O, {LinearRole::O}, init).reshape({kv, groups, d}).amax(1);
    a3 = leaf(torch::diag_embed(smooth_scale(act, wmax, alpha)));
    scales.push_back(a3);
  }

  // Channel shifts (affine_fold.h), from zero.
  torch::Tensor d1, d2, d3;
  if (params.get_bool("shifts")) {
    if (qkv) d1 = leaf(torch::zeros({cfg.hidden_size}));
    if (mlp_in) d2 = leaf(torch::zeros({cfg.hidden_size}));
    if (vo) d3 = leaf(torch::zeros({cfg.num_kv_heads * cfg.head_dim}));
  }
  std::map<LinearRole, torch::Tensor> own_bias;
  for (const auto& [r, wr] : w)
    if (const auto b = ctx.bias(r); b.defined()) own_bias[r] = b.to(dev, torch::kFloat32);
  const auto shifted_biases = [&](const BlockAffine& affine) {
    std::map<LinearRole, torch::Tensor> out;
    for (const auto& [r, wr] : w)
      if (auto b = shifted_bias(r, wr, own_bias.count(r) ? own_bias.at(r) : torch::Tensor(), affine, cfg); b.defined())
        out[r] = b;
    return out;
  };

  std::map<LinearRole, LearnableClipping> clips;
  for (const auto& [r, wr] : w) {
    const auto& clip = clips.emplace(r, LearnableClipping(wr.size(0), wr.size(1), ctx.spec(r), dev,
                                                          params.get_bool("lwc")))
                           .first->second;
    for (const auto& p : clip.parameters()) clipping.push_back(p);
  }

  torch::Tensor hidden_mask, head_mask;
  options.on_epoch = [&](int64_t epoch) {
    if (matrix) hidden_mask = gradual_mask(cfg.hidden_size, epoch, options.epochs, stability, dev);
    head_mask = gradual_mask(cfg.head_dim, epoch, options.epochs, stability, dev);
  };
  options.on_epoch(options.epochs - 1);  // full matrices, should training run zero epochs
  const auto current = [&] {
    BlockAffine b;
    if (a1.defined()) b.input_norm = matrix ? a1 * hidden_mask : a1;
    if (a2.defined()) b.post_attention = matrix ? a2 * hidden_mask : a2;
    if (a3.defined()) b.values = a3 * head_mask;
    b.input_shift = d1;
    b.post_shift = d2;
    b.value_shift = d3;
    return b;
  };

  const double wd = params.get_double("weight_decay");
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!let.empty())
    groups.emplace_back(let, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(params.get_double("let_lr")).weight_decay(wd)));
  if (!clipping.empty())
    groups.emplace_back(clipping, std::make_unique<torch::optim::AdamWOptions>(
                                      torch::optim::AdamWOptions(params.get_double("lwc_lr")).weight_decay(wd)));
  // The transforms of a step and their inverses, shared by the linears they
  // feed: one solve per norm and step rather than one per linear.
  BlockAffine step, inverses;
  std::map<LinearRole, torch::Tensor> biases;
  const double least = params.get_double("least_entry");
  const auto truncate = [&] {
    if (least > 0)
      for (auto& p : scales) keep_away_from_zero(p, least);
  };
  options.before_step = [&] {
    truncate();
    step = current();
    inverses = {};
    if (step.input_norm.defined()) inverses.input_norm = input_transform(step.input_norm);
    if (step.post_attention.defined()) inverses.post_attention = input_transform(step.post_attention);
    biases = shifted_biases(step);
  };
  options.before_step();
  options.input_transform = [&inverses](LinearRole r) { return input_affine(r, inverses); };
  options.input_shift = [&step](LinearRole r) { return input_shift(r, step); };
  options.bias = [&biases](LinearRole r) { return biases.count(r) ? biases.at(r) : torch::Tensor(); };
  std::map<LinearRole, TrainedWeight> trained;
  for (const auto& [r, wr] : w)
    trained.emplace(r, [&, r = r, wr = wr] { return clips.at(r).fake_quantize(transformed_weight(r, wr, step, cfg)); });
  if (!groups.empty()) {
    torch::optim::AdamW optimizer(std::move(groups));
    train_block(ctx, trained, optimizer, options);
  }

  torch::NoGradGuard no_grad;
  truncate();
  options.on_epoch(options.epochs - 1);
  const auto affine = current();
  if (affine.input_norm.defined()) check_invertible(affine.input_norm, "input-norm", ctx);
  if (affine.post_attention.defined()) check_invertible(affine.post_attention, "post-attention-norm", ctx);
  if (affine.values.defined()) check_invertible(affine.values, "value", ctx);
  // Diagonal scales go into the norms; the linears then hold W·diag(a) as
  // their FP weight, the reference of the metrics.
  if (!matrix && affine.input_norm.defined())
    ctx.set_norm_weight(model::NormRole::Input, ctx.norm_weight(model::NormRole::Input) / affine.input_norm);
  if (!matrix && affine.post_attention.defined())
    ctx.set_norm_weight(model::NormRole::PostAttention,
                        ctx.norm_weight(model::NormRole::PostAttention) / affine.post_attention);
  BlockAffine output_side;
  output_side.values = affine.values;
  for (const auto& [r, wr] : w) {
    const auto& a = input_affine(r, affine);
    const auto reference = matrix ? transformed_weight(r, wr, output_side, cfg) : transformed_weight(r, wr, affine, cfg);
    const bool output_side_changed = affine.values.defined() && (r == LinearRole::V || r == LinearRole::O);
    if ((!matrix && a.defined()) || output_side_changed) ctx.set_weight(r, reference);
  }
  const auto final_biases = shifted_biases(affine);
  for (const auto& [r, wr] : w) {
    ctx.check_cancelled();
    auto q = clips.at(r).quantize(transformed_weight(r, wr, affine, cfg));
    const auto& a = input_affine(r, affine);
    if (matrix && a.defined()) q.transform = input_transform(a).to(torch::kCPU).contiguous();
    if (final_biases.count(r)) {
      // The input shift moves into the bias: Ŵ·T(x − δ) + b = Ŵ·T·x + b − Ŵ·T·δ.
      auto b = final_biases.at(r);
      if (const auto& d = input_shift(r, affine); d.defined())
        b = b - torch::mv(q.dequantized_weight().to(dev),
                          quant::apply_input_transform(d, a.defined() ? input_transform(a) : a));
      q.bias = b.to(torch::kCPU).contiguous();
    }
    ctx.commit(r, std::move(q));
  }
}

}  // namespace qs::methods
