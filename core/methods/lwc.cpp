#include "core/methods/lwc.h"

#include <map>

#include "core/methods/block_training.h"
#include "core/methods/learnable_clipping.h"
#include "core/methods/block_context.h"

namespace qs::methods {

using model::LinearRole;

std::vector<quant::ParamSpec> training_param_specs() {
  return {
      {"epochs", int64_t{0}, "passes over the calibration set per block; 0: OmniQuant's scripts (20, 40 at 2 bits)",
       0, 10000, {}},
      {"batch", int64_t{1}, "calibration sequences per optimizer step", 1, 4096, {}},
      {"aug_loss",
       std::string("auto"),
       "also fit the FP block's output on the quantized inputs; auto: at 2 bits, as OmniQuant's W2 scripts",
       0,
       0,
       {"auto", "on", "off"}},
      {"lwc_lr", 1e-2, "AdamW learning rate of the clipping factors", 0.0, 10.0, {}},
      {"weight_decay", 0.0, "AdamW weight decay", 0.0, 1.0, {}},
  };
}

std::vector<quant::ParamSpec> LwcMethod::param_specs() const { return training_param_specs(); }

std::map<LinearRole, quant::QuantizedLinear> train_clipping(methods::BlockContext& ctx,
                                                            const std::map<LinearRole, torch::Tensor>& weights,
                                                            const quant::MethodParams& params,
                                                            const std::string& method) {
  const auto options = default_training(ctx, params.get_int("epochs"), params.get_string("aug_loss"),
                                        params.get_int("batch"), method);
  std::map<LinearRole, LearnableClipping> clips;
  std::vector<torch::Tensor> learned;
  for (const auto& [r, w] : weights) {
    const auto& clip = clips.emplace(r, LearnableClipping(w.size(0), w.size(1), ctx.spec(r), w.device(), true))
                           .first->second;
    for (const auto& p : clip.parameters()) learned.push_back(p);
  }
  torch::optim::AdamW optimizer(
      learned, torch::optim::AdamWOptions(params.get_double("lwc_lr")).weight_decay(params.get_double("weight_decay")));
  std::map<LinearRole, TrainedWeight> trained;
  for (const auto& [r, w] : weights)
    trained.emplace(r, [&clip = clips.at(r), &weight = w] { return clip.fake_quantize(weight); });
  train_block(ctx, trained, optimizer, options);
  std::map<LinearRole, quant::QuantizedLinear> records;
  for (const auto& [r, w] : weights) records.emplace(r, clips.at(r).quantize(w));
  return records;
}

void LwcMethod::quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const {
  std::map<LinearRole, torch::Tensor> weights;
  for (auto r : ctx.assigned()) weights.emplace(r, ctx.weight(r));
  for (auto& [r, q] : train_clipping(ctx, weights, params, name())) ctx.commit(r, std::move(q));
}

}  // namespace qs::methods
