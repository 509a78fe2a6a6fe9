#pragma once
// The training loop of the learned methods (LWC, LSI, and what builds on
// them), after OmniQuant's: each assigned linear of the block is replaced by a
// differentiable fake-quantized weight, and the method's parameters are fitted
// by AdamW on the MSE between the block's output and the FP model's output of
// the block (ctx.fp_targets()), plus, with the augmented loss, the FP block's
// output on the same quantized inputs (ctx.targets()). One optimizer step per
// `batch` calibration sequences, `epochs` passes over them.

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>

#include "core/methods/block_context.h"

namespace qs::methods {

struct TrainingOptions {
  int64_t epochs = 20;
  int64_t batch = 1;  // sequences per optimizer step
  bool aug_loss = false;
  std::string method;  // names the loss curve and the log lines: "lwc"
  // Called before each epoch (0-based), e.g. to widen AffineQuant's mask.
  std::function<void(int64_t epoch)> on_epoch;
  // Called before each step's forward, e.g. to compute once what several of
  // the step's weights share (AffineQuant's inverse transforms).
  std::function<void()> before_step;
  // The transform in front of a trained linear (a matrix [in, in] or a
  // diagonal [in]; undefined: none), applied to the linear's input rather
  // than folded into its weight, so the linears sharing an input and a
  // transform compute T·x once per step (Decoder::apply_linear).
  std::function<torch::Tensor(model::LinearRole)> input_transform;
  // A shift subtracted from a trained linear's input before its transform
  // ([in]; undefined: none) and the bias that replaces the linear's own
  // (undefined: its own), both re-read every forward: AffineQuant's learned
  // channel shifts, y = W·T(x − δ) + b.
  std::function<torch::Tensor(model::LinearRole)> input_shift;
  std::function<torch::Tensor(model::LinearRole)> bias;
};

// The float32 [out, in] weight a linear has during training, differentiable
// in the method's parameters; it multiplies the input after the linear's
// input transform, if any.
using TrainedWeight = std::function<torch::Tensor()>;

struct TrainingResult {
  double first_epoch_loss = 0.0;
  double last_epoch_loss = 0.0;
  int64_t steps = 0;
};

// Runs the loop with `weights` installed for their linears (the block's other
// linears and norms stay as they are) and puts the block back as it was on
// return, cancellation or error. Each step's loss goes to
// feedback.curve_point("layer L <method> loss", step, loss), each epoch's mean
// to the log. Throws qs::Cancelled between steps, qs::Error when the loss is
// not finite (naming the layer, epoch and step).
TrainingResult train_block(methods::BlockContext& ctx, const std::map<model::LinearRole, TrainedWeight>& weights,
                           torch::optim::Optimizer& optimizer, const TrainingOptions& options);

// OmniQuant's scripts: 20 epochs at 3 and 4 bits, 40 with the augmented loss
// at 2 bits. `epochs` 0 and aug_loss "auto" pick those by the narrowest spec
// assigned.
TrainingOptions default_training(const methods::BlockContext& ctx, int64_t epochs, const std::string& aug_loss,
                                 int64_t batch, const std::string& method);

}  // namespace qs::methods
