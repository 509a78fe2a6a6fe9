#include "core/model/quantized_linear_op.h"
#include "core/pipeline/refinement_run.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "core/error.h"

namespace qs::pipeline {

using methods::ModelContext;

torch::Tensor fp_last_hidden(model::Decoder& decoder, const torch::Tensor& ids, int64_t batch, Feedback& feedback) {
  torch::NoGradGuard no_grad;
  batch = std::max<int64_t>(1, batch);
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < ids.size(0); i += batch) {
    feedback.check_cancelled();
    parts.push_back(decoder.last_hidden(ids.narrow(0, i, std::min(batch, ids.size(0) - i))));
  }
  return torch::cat(parts, 0);
}

RefinementRun run_refinement(model::Decoder& decoder, const torch::Tensor& ids, const torch::Tensor& fp_hidden,
                             const quant::Refinement& refinement, const quant::MethodParams& params,
                             std::vector<LinearSlot> slots, Feedback& feedback,
                             const std::filesystem::path& state_file) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto linears = static_cast<int64_t>(slots.size());
  ModelContext ctx(decoder, ids, fp_hidden, std::move(slots), feedback);
  ctx.set_state_file(state_file);
  refinement.refine(ctx, params);
  RefinementRun run;
  run.result = {refinement.name(), linears,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), ctx.reported()};
  run.committed = ctx.committed();
  return run;
}

std::vector<LinearSlot> quantized_slots(const model::Decoder& decoder) {
  std::vector<LinearSlot> slots;
  for (int64_t l = 0; l < decoder.num_layers(); ++l)
    for (auto role : decoder.linear_roles(l))
      if (dynamic_cast<const model::QuantizedLinearOp*>(decoder.linear(l, role).get())) slots.push_back({l, role});
  return slots;
}

std::map<std::string, std::shared_ptr<const quant::QuantizedLinear>> RefinementRun::committed_by_name() const {
  std::map<std::string, std::shared_ptr<const quant::QuantizedLinear>> out;
  for (const auto& [slot, record] : committed) out[model::linear_name(slot.layer, slot.role)] = record;
  return out;
}

void check_same_shape(const model::ModelConfig& q, const model::ModelConfig& fp) {
  const auto differ = [](const char* field, int64_t a, int64_t b) {
    if (a != b)
      throw ConfigError("refine", field,
                        "the quantized model has " + std::to_string(a) + ", the FP model " + std::to_string(b) +
                            "; the FP model must be the one it was quantized from");
  };
  differ("num_hidden_layers", q.num_layers, fp.num_layers);
  differ("hidden_size", q.hidden_size, fp.hidden_size);
  differ("intermediate_size", q.intermediate_size, fp.intermediate_size);
  differ("vocab_size", q.vocab_size, fp.vocab_size);
}

RefinementRun refine_quantized_model(model::Decoder& quantized, model::Decoder& fp,
                                     const text::CalibrationSet& calibration, const quant::Refinement& refinement,
                                     const quant::MethodParams& params, int64_t batch, Feedback& feedback,
                                     const std::filesystem::path& state_file) {
  check_same_shape(quantized.config(), fp.config());
  auto slots = quantized_slots(quantized);
  if (slots.empty())
    throw ArgumentError("refine: the model has no quantized linears; " + refinement.name() +
                        " runs over a quantized model (a QuantScope checkpoint, a project or a packed export)");
  if (calibration.samples() == 0) throw ArgumentError("refine: the calibration set is empty");
  const auto ids = calibration.ids.to(quantized.device());
  const auto fp_hidden = fp_last_hidden(fp, calibration.ids.to(fp.device()), batch, feedback).to(quantized.device());
  std::vector<model::BlockState> saved;
  for (int64_t l = 0; l < quantized.num_layers(); ++l) saved.push_back(quantized.block_state(l));
  try {
    return run_refinement(quantized, ids, fp_hidden, refinement, params, std::move(slots), feedback, state_file);
  } catch (...) {
    for (int64_t l = 0; l < quantized.num_layers(); ++l)
      quantized.restore_block_state(l, saved[static_cast<size_t>(l)]);
    throw;
  }
}

}  // namespace qs::pipeline
