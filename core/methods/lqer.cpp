#include "core/methods/lqer.h"

#include <map>

#include "core/analysis/layer_analysis.h"
#include "core/error.h"
#include "core/methods/gptq_solver.h"
#include "core/methods/shared_inputs.h"
#include "core/methods/block_context.h"

namespace qs::methods {

using model::LinearRole;

namespace {

// L²QER's scale: mean |x_j| normalised by sqrt(min · max) over the channels,
// floored so a channel that never fired does not blow up 1/s.
torch::Tensor l2qer_scale(const analysis::ChannelStats& inputs) {
  const auto s = inputs.mean_abs().clamp_min(1e-8);
  return s / torch::sqrt(s.min() * s.max());
}

}  // namespace

std::vector<quant::ParamSpec> LqerMethod::param_specs() const {
  return {
      {"rank", int64_t{32}, "rank k of the error's side branch", 1, 65536, {}},
      {"activation_scaling",
       true,
       "L²QER: weigh input channels by mean |x| before the SVD (off: plain LQER)",
       0,
       0,
       {}},
      {"base",
       std::string("rtn"),
       "how the weight itself is quantized before the error is reconstructed",
       0,
       0,
       {"rtn", "gptq"}},
      {"damp_percent", 0.01, "GPTQ base: damping added to the Hessian diagonal, fraction of its mean", 0.0, 1.0, {}},
  };
}

void add_error_branch(quant::QuantizedLinear& q, const torch::Tensor& w, int64_t rank,
                      const torch::Tensor& channel_scale) {
  const auto e = w.to(torch::kCPU, torch::kFloat32) - q.dequantized_weight().to(torch::kCPU);
  const auto s = channel_scale.defined() ? channel_scale.to(torch::kCPU, torch::kFloat32) : torch::ones({e.size(1)});
  if (s.size(0) != e.size(1) || !(s > 0).all().item<bool>())
    throw ArgumentError("LQER: channel scale must be positive with one entry per input channel");
  const auto [u, sigma, vh] = torch::linalg_svd(e * s.unsqueeze(0), /*full_matrices=*/false);
  const int64_t k = std::min<int64_t>(rank, sigma.size(0));
  q.lora_b = (u.narrow(1, 0, k) * sigma.narrow(0, 0, k).unsqueeze(0)).contiguous();
  q.lora_a = (vh.narrow(0, 0, k) / s.unsqueeze(0)).contiguous();
}

void LqerMethod::quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const {
  const int64_t rank = params.get_int("rank");
  const bool scaled = params.get_bool("activation_scaling");
  const bool gptq = params.get_string("base") == "gptq";
  const auto& roles = ctx.assigned();
  std::map<LinearRole, analysis::ChannelStats> means;
  std::map<LinearRole, HessianAccumulator> hessians;
  if (scaled || gptq) {
    for (auto r : roles)
      if (input_owner(r, roles) == r && gptq)
        hessians.emplace(r, HessianAccumulator(ctx.weight(r).size(1), ctx.device()));
    ctx.for_each_input(roles, [&](LinearRole r, const torch::Tensor& x) {
      if (input_owner(r, roles) != r) return;
      if (scaled) means[r].add(x);
      if (auto it = hessians.find(r); it != hessians.end()) it->second.add(x);
    });
  }
  GptqOptions o;
  o.damp_percent = params.get_double("damp_percent");
  for (auto r : roles) {
    ctx.check_cancelled();
    const auto owner = input_owner(r, roles);
    const auto w = ctx.weight(r);
    auto q = gptq ? gptq_quantize(w, hessians.at(owner).hessian(), ctx.spec(r), o, &ctx.feedback())
                  : quant::QuantizedLinear::round_to_nearest(w, ctx.spec(r));
    add_error_branch(q, w, rank, scaled ? l2qer_scale(means.at(owner)) : torch::Tensor());
    ctx.commit(r, std::move(q));
  }
}

}  // namespace qs::methods
