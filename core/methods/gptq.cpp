#include "core/methods/gptq.h"

#include <map>

#include "core/methods/gptq_solver.h"
#include "core/methods/shared_inputs.h"
#include "core/pipeline/block_context.h"

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

void GptqMethod::quantize_block(pipeline::BlockContext& ctx, const quant::MethodParams& params) const {
  GptqOptions o;
  o.damp_percent = params.get_double("damp_percent");
  o.block_size = params.get_int("block_size");
  o.act_order = params.get_bool("act_order");
  o.static_groups = params.get_bool("static_groups");
  std::vector<std::vector<LinearRole>> sequence = {{LinearRole::Q, LinearRole::K, LinearRole::V},
                                                   {LinearRole::O},
                                                   {LinearRole::Gate, LinearRole::Up},
                                                   {LinearRole::Down}};
  if (!params.get_bool("true_sequential")) sequence = {{model::kLinearRoles.begin(), model::kLinearRoles.end()}};

  for (const auto& stage : sequence) {
    std::vector<LinearRole> roles;
    for (auto r : stage)
      if (ctx.is_assigned(r)) roles.push_back(r);
    if (roles.empty()) continue;
    std::map<LinearRole, HessianAccumulator> acc;
    for (auto r : roles)
      if (input_owner(r, roles) == r) acc.emplace(r, HessianAccumulator(ctx.weight(r).size(1), ctx.device()));
    ctx.for_each_input(roles, [&](LinearRole r, const torch::Tensor& x) {
      if (auto it = acc.find(r); it != acc.end()) it->second.add(x);
    });
    for (auto r : roles) {
      ctx.check_cancelled();
      const auto h = acc.at(input_owner(r, roles)).hessian();
      ctx.commit(r, gptq_quantize(ctx.weight(r), h, ctx.spec(r), o, &ctx.feedback()));
    }
  }
}

}  // namespace qs::methods
