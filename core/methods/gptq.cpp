#include "core/methods/gptq.h"

#include <algorithm>
#include <map>

#include "core/methods/gptq_solver.h"
#include "core/methods/shared_inputs.h"
#include "core/methods/block_context.h"

namespace qs::methods {

using model::LinearRole;

std::vector<quant::ParamSpec> GptqMethod::param_specs() const {
  return {
      {"damp_percent", 0.01, "damping added to the Hessian diagonal, fraction of its mean", 0.0, 1.0, {}},
      {"block_size", int64_t{128}, "lazy-batch width in columns", 1, 8192, {}},
      {"act_order", false, "quantize columns by decreasing Hessian diagonal", 0, 0, {}},
      {"static_groups", false, "fix group grids before any update (with act_order: no g_idx)", 0, 0, {}},
      {"true_sequential",
       false,
       "capture each sub-layer group's inputs after the earlier ones are quantized (official default: off)",
       0,
       0,
       {}},
  };
}

void GptqMethod::quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const {
  GptqOptions o;
  o.damp_percent = params.get_double("damp_percent");
  o.block_size = params.get_int("block_size");
  o.act_order = params.get_bool("act_order");
  o.static_groups = params.get_bool("static_groups");
  // True-sequential stages: q/k/v, o, every gate/up, every down.
  const auto stage_of = [&](LinearRole r) -> size_t {
    if (!params.get_bool("true_sequential")) return 0;
    switch (r.kind) {
      case model::LinearKind::O: return 1;
      case model::LinearKind::Gate:
      case model::LinearKind::Up: return 2;
      case model::LinearKind::Down: return 3;
      default: return 0;
    }
  };
  std::vector<std::vector<LinearRole>> sequence(4);
  for (auto r : ctx.assigned()) sequence[stage_of(r)].push_back(r);

  for (const auto& roles : sequence) {
    if (roles.empty()) continue;
    std::map<LinearRole, HessianAccumulator> acc;
    for (auto r : roles)
      if (input_owner(r, roles) == r) acc.emplace(r, HessianAccumulator(ctx.weight(r).size(1), ctx.device()));
    ctx.for_each_input(roles, [&](LinearRole r, const torch::Tensor& x) {
      if (auto it = acc.find(r); it != acc.end()) it->second.add(x);
    });
    // Each Hessian is scaled in its accumulator's storage and handed to the
    // last linear that reads it, so down_proj's (0.8 GB at 14336 inputs) is
    // never copied.
    std::map<LinearRole, torch::Tensor> hessians;
    for (size_t i = 0; i < roles.size(); ++i) {
      ctx.check_cancelled();
      const auto r = roles[i], owner = input_owner(r, roles);
      const bool read_later = std::any_of(roles.begin() + static_cast<std::ptrdiff_t>(i) + 1, roles.end(),
                                          [&](LinearRole later) { return input_owner(later, roles) == owner; });
      if (acc.count(owner) && acc.at(owner).samples() == 0) {
        // An expert no calibration token was routed to has no Hessian: its
        // grid alone (RTN), as GPTQModel's fail-safe does.
        ctx.feedback().log("GPTQ: no calibration token reached " + model::linear_name(ctx.layer(), r) +
                           "; rounded to nearest (route calibration through every expert to give it a Hessian)");
        ctx.commit(r, quant::QuantizedLinear::round_to_nearest(ctx.weight(r), ctx.spec(r)));
        if (!read_later) acc.erase(owner);
        continue;
      }
      auto it = hessians.find(owner);
      if (it == hessians.end()) {
        it = hessians.emplace(owner, acc.at(owner).take_hessian()).first;
        acc.erase(owner);
      }
      if (read_later) {
        ctx.commit(r, gptq_quantize(ctx.weight(r), it->second, ctx.spec(r), o, &ctx.feedback()));
      } else {
        auto h = std::move(it->second);
        hessians.erase(it);
        ctx.commit(r, gptq_quantize_consuming(ctx.weight(r), std::move(h), ctx.spec(r), o, &ctx.feedback()));
      }
    }
  }
}

}  // namespace qs::methods
