#pragma once
// What a method sees of the block it quantizes: the block's calibration
// inputs and FP targets, the linears assigned to it with their specs, the
// current weights and norms, and ways to run the block and capture the
// inputs of its linears. The pipeline owns it and reads back what was
// committed (records, reference weights, timings) for the metrics.

#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/feedback.h"
#include "core/model/decoder.h"
#include "core/quant/quant_spec.h"
#include "core/quant/quantized_linear.h"

namespace qs::methods {

using model::LinearRole;
using model::NormRole;

// fn over x in slices of `batch` along dim 0, outputs concatenated; checks
// for cancellation between slices.
torch::Tensor map_batches(const torch::Tensor& x, int64_t batch, const Feedback& feedback,
                          const std::function<torch::Tensor(const torch::Tensor&)>& fn);

class BlockContext {
 public:
  // inputs: [N, L, hidden] on the decoder's device and dtype. fp_inputs: what
  // the FP model feeds this block on the same sequences, when the pipeline
  // carries the FP trajectory; undefined otherwise.
  BlockContext(model::Decoder& decoder, int64_t layer, torch::Tensor inputs, int64_t batch, Feedback& feedback,
               torch::Tensor fp_inputs = {});

  int64_t layer() const { return layer_; }
  model::Decoder& decoder() { return decoder_; }
  torch::Device device() const { return decoder_.device(); }
  torch::ScalarType dtype() const { return decoder_.dtype(); }
  const torch::Tensor& inputs() const { return inputs_; }
  // The FP block's outputs on the inputs: from the first input capture when
  // it runs before anything in the block changed (so a method reading FP
  // inputs costs no extra forward pass), else computed on first use with the
  // block's FP state put back for the pass.
  const torch::Tensor& targets();
  // The FP model's outputs of this block: the FP block on the FP trajectory's
  // inputs. The same as targets() when the trajectory is not carried.
  const torch::Tensor& fp_targets();
  bool has_fp_trajectory() const { return fp_inputs_.defined(); }
  int64_t batch_size() const { return batch_; }
  Feedback& feedback() { return feedback_; }
  void check_cancelled() const { feedback_.check_cancelled(); }

  // The linears the current method must quantize, in execution order.
  const std::vector<LinearRole>& assigned() const { return assigned_; }
  bool is_assigned(LinearRole r) const;
  const quant::QuantSpec& spec(LinearRole r) const;
  bool is_quantized(LinearRole r) const { return committed_.count(r) != 0; }

  // Current FP weight as float32 [out, in]; bias or undefined.
  torch::Tensor weight(LinearRole r) const;
  torch::Tensor bias(LinearRole r) const;
  // Replaces the FP weight (and bias when given) of a linear not yet quantized.
  void set_weight(LinearRole r, const torch::Tensor& weight, const torch::Tensor& bias = {});
  torch::Tensor norm_weight(NormRole n) const { return decoder_.norm_weight(layer_, n).to(torch::kFloat32); }
  void set_norm_weight(NormRole n, const torch::Tensor& w);
  // An MoE block's router [experts, hidden] and shared-expert gate [1, hidden]
  // (undefined where the block has none), float32; and their replacement.
  torch::Tensor router_weight() const;
  torch::Tensor shared_expert_gate() const;
  void set_router(const torch::Tensor& router, const torch::Tensor& shared_expert_gate);

  // Installs the quantized layer in the decoder. The current FP weight is kept
  // as the reference the metrics compare against; the bias is carried over.
  void commit(LinearRole r, quant::QuantizedLinear q);

  // Runs the block over the inputs in batches of batch_size() sequences and
  // calls fn with each batch's input [b, L, in] of the listed linears; a batch
  // stops as soon as every listed linear has been reached, unless this pass
  // also produces the targets.
  void for_each_input(const std::vector<LinearRole>& roles,
                      const std::function<void(LinearRole, const torch::Tensor&)>& fn);
  // The same inputs gathered: [N, L, in] per role.
  std::map<LinearRole, torch::Tensor> capture_inputs(const std::vector<LinearRole>& roles);
  // fn over the inputs in batches, outputs concatenated along dim 0.
  torch::Tensor map_batches(const torch::Tensor& x, const std::function<torch::Tensor(const torch::Tensor&)>& fn) const;

  // --- for the pipeline ---
  void begin_method(std::vector<LinearRole> roles, std::map<LinearRole, quant::QuantSpec> specs);
  struct Committed {
    std::shared_ptr<const quant::QuantizedLinear> record;
    torch::Tensor reference_weight;  // float32, the FP weight the method quantized
    torch::Tensor reference_bias;
    double seconds = 0.0;
  };
  const std::map<LinearRole, Committed>& committed() const { return committed_; }
  bool modified() const { return modified_; }

 private:
  // The block as it was before any method touched it, run over x.
  torch::Tensor run_fp_block(const torch::Tensor& x);

  model::Decoder& decoder_;
  int64_t layer_;
  torch::Tensor inputs_;
  model::BlockState fp_state_;  // the block as it was, for late targets
  torch::Tensor targets_;
  torch::Tensor fp_inputs_;
  torch::Tensor fp_targets_;
  int64_t batch_;
  Feedback& feedback_;
  std::vector<LinearRole> assigned_;
  std::map<LinearRole, quant::QuantSpec> specs_;
  std::map<LinearRole, Committed> committed_;
  bool modified_ = false;  // a weight or norm of the block has changed
  std::chrono::steady_clock::time_point last_mark_;
};

}  // namespace qs::methods
