#include "core/pipeline/layer_trial.h"

#include <regex>

#include "core/error.h"
#include "core/model/decoder.h"

namespace qs::pipeline {

LayerResult quantize_one_linear(const model::ModelWeights& weights, const std::string& name, const LayerChoice& choice,
                                const text::CalibrationSet& calibration, const TrialOptions& options,
                                Feedback& feedback) {
  static const std::regex block_re(R"(^model\.layers\.(\d+)\.(self_attn|mlp)\.[a-z_]+_proj$)");
  std::smatch m;
  if (!std::regex_match(name, m, block_re) || !(weights.has(name + ".weight") || weights.quantized.count(name)))
    throw FormatError(weights.source.string(), "linear '" + name + "'", "the model has no such decoder linear");
  const int64_t layer = std::stoll(m[1].str());
  if (layer >= weights.config.num_layers)
    throw FormatError(weights.source.string(), "linear '" + name + "'",
                      "block " + std::to_string(layer) + " is past the model's " +
                          std::to_string(weights.config.num_layers) + " blocks");
  // Tensors are shared, not copied: only the config is cut.
  model::ModelWeights cut = weights;
  cut.config.num_layers = layer + 1;
  model::Decoder decoder(cut, options.device, options.dtype);

  QuantPlan plan(QuantPlan::make_choice(kKeepFp, choice.spec, "layer trial"));
  LayerRule rule;
  rule.pattern = name;
  rule.method = choice.method;
  rule.bits = choice.spec.bits;
  rule.group_size = choice.spec.group_size;
  rule.symmetric = choice.spec.symmetric;
  rule.clip_ratio = choice.spec.clip_ratio;
  for (const auto& [key, value] : choice.params.values()) rule.params.emplace_back(key, value);
  plan.add_rule(std::move(rule));

  PipelineOptions po;
  po.batch = options.batch;
  po.metric_sequences = options.metric_sequences;
  po.analyses = true;
  auto result = run_pipeline(decoder, calibration, plan, po, feedback);
  for (auto& l : result.layers)
    if (l.name == name) return std::move(l);
  throw Error("layer trial: the pipeline reported no result for " + name);
}

}  // namespace qs::pipeline
