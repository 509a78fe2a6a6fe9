#pragma once
// Running a refinement (RILQ) over a whole quantized model. The pipeline does
// it after its last block ("then"); `refine_quantized_model` does it over a
// model that was quantized before — a QuantScope checkpoint, a project's
// model, a packed GPTQ/AWQ export — so an expensive block-wise run need not
// be repeated to compose a refinement on top of it.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/feedback.h"
#include "core/model/decoder.h"
#include "core/methods/model_context.h"
#include "core/pipeline/pipeline.h"
#include "core/quant/refinement.h"
#include "core/text/calibration_set.h"

namespace qs::pipeline {

using methods::LinearSlot;

// The decoder's last hidden states on `ids` ([N, L]), `batch` sequences per pass.
torch::Tensor fp_last_hidden(model::Decoder& decoder, const torch::Tensor& ids, int64_t batch, Feedback& feedback);

struct RefinementRun {
  RefinementResult result;
  std::map<LinearSlot, std::shared_ptr<const quant::QuantizedLinear>> committed;

  // `committed` under the linears' module names ("model.layers.3.mlp.up_proj").
  std::map<std::string, std::shared_ptr<const quant::QuantizedLinear>> committed_by_name() const;
};

// Hands `slots` of `decoder` to the refinement, fitted to `fp_hidden` on `ids`,
// with `state_file` as ModelContext::state_file().
RefinementRun run_refinement(model::Decoder& decoder, const torch::Tensor& ids, const torch::Tensor& fp_hidden,
                             const quant::Refinement& refinement, const quant::MethodParams& params,
                             std::vector<LinearSlot> slots, Feedback& feedback,
                             const std::filesystem::path& state_file = {});

// Every linear the decoder holds quantized, in model order.
std::vector<LinearSlot> quantized_slots(const model::Decoder& decoder);

// Throws ConfigError naming the first of num_hidden_layers, hidden_size,
// intermediate_size and vocab_size in which a quantized model and the FP
// model it is said to come from differ.
void check_same_shape(const model::ModelConfig& quantized, const model::ModelConfig& fp);

// Refines every quantized linear of `quantized` against the last hidden states
// of `fp`, the model it was quantized from, on the calibration sequences, with
// `state_file` as ModelContext::state_file(). The
// FP targets come from their own decoder because a quantized model's norms
// may not be the FP model's (AWQ and AffineQuant fold scales into them).
// Throws ArgumentError when nothing is quantized, ConfigError when the two
// models differ in shape; on error or cancel `quantized` is as it was.
RefinementRun refine_quantized_model(model::Decoder& quantized, model::Decoder& fp,
                                     const text::CalibrationSet& calibration, const quant::Refinement& refinement,
                                     const quant::MethodParams& params, int64_t batch, Feedback& feedback,
                                     const std::filesystem::path& state_file = {});

}  // namespace qs::pipeline
