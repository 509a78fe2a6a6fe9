#include "core/methods/lsi.h"

#include <map>

#include "core/methods/block_training.h"
#include "core/methods/learnable_clipping.h"
#include "core/methods/lwc.h"
#include "core/methods/block_context.h"

namespace qs::methods {

using model::LinearRole;

SingularIncrement::SingularIncrement(const torch::Tensor& w, int64_t top_block) {
  torch::NoGradGuard no_grad;
  auto [u, s, vh] = torch::linalg_svd(w.to(torch::kFloat32), /*full_matrices=*/false);
  u_ = u;
  s_ = s;
  vh_ = vh;
  increment_ = torch::zeros_like(s).requires_grad_(true);
  const int64_t k = std::min<int64_t>(top_block, s.size(0));
  if (k > 0) block_ = torch::zeros({k, k}, s.options()).requires_grad_(true);
}

std::vector<torch::Tensor> SingularIncrement::parameters() const {
  if (block_.defined()) return {increment_, block_};
  return {increment_};
}

torch::Tensor SingularIncrement::weight() const {
  auto w = torch::matmul(u_ * (s_ + increment_).unsqueeze(0), vh_);
  if (!block_.defined()) return w;
  const int64_t k = block_.size(0);
  return w + torch::matmul(torch::matmul(u_.narrow(1, 0, k), block_), vh_.narrow(0, 0, k));
}

std::vector<quant::ParamSpec> LsiMethod::param_specs() const {
  auto specs = training_param_specs();
  specs.push_back(
      {"lr", 2e-4, "AdamW learning rate of the singular-value increments (and the top block)", 0.0, 10.0, {}});
  specs.push_back({"lwc", true, "learn OmniQuant's clipping factors together with the increments", 0, 0, {}});
  specs.push_back({"top_block", int64_t{0}, "k of the learnable k×k top-left block (0: increments only)", 0, 4096, {}});
  return specs;
}

void LsiMethod::quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const {
  const auto options = default_training(ctx, params.get_int("epochs"), params.get_string("aug_loss"),
                                        params.get_int("batch"), name());
  const bool lwc = params.get_bool("lwc");
  std::map<LinearRole, SingularIncrement> increments;
  std::map<LinearRole, LearnableClipping> clips;
  std::vector<torch::Tensor> singular, clipping;
  for (auto r : ctx.assigned()) {
    ctx.check_cancelled();
    const auto w = ctx.weight(r);
    const auto& inc = increments.emplace(r, SingularIncrement(w, params.get_int("top_block"))).first->second;
    for (const auto& p : inc.parameters()) singular.push_back(p);
    const auto& clip = clips.emplace(r, LearnableClipping(w.size(0), w.size(1), ctx.spec(r), w.device(), lwc))
                           .first->second;
    for (const auto& p : clip.parameters()) clipping.push_back(p);
  }
  const double wd = params.get_double("weight_decay");
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(singular, std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(params.get_double("lr")).weight_decay(wd)));
  if (!clipping.empty())
    groups.emplace_back(clipping, std::make_unique<torch::optim::AdamWOptions>(
                                      torch::optim::AdamWOptions(params.get_double("lwc_lr")).weight_decay(wd)));
  torch::optim::AdamW optimizer(std::move(groups));
  std::map<LinearRole, TrainedWeight> trained;
  for (auto r : ctx.assigned())
    trained.emplace(r, [&clips, &increments, r] { return clips.at(r).fake_quantize(increments.at(r).weight()); });
  train_block(ctx, trained, optimizer, options);
  for (auto r : ctx.assigned()) {
    torch::NoGradGuard no_grad;
    ctx.commit(r, clips.at(r).quantize(increments.at(r).weight()));
  }
}

}  // namespace qs::methods
