#pragma once
// RILQ's training state on disk, so a run cut short (a crash, a cancel, a
// killed process) goes on from its last validation with the numbers of a run
// that never stopped: every adapter as trained and as best so far, Adam's
// step and moments of each trained tensor, and the loop's counters. One
// safetensors file written through a temporary and a rename, so a crash while
// saving leaves the state before. The file sits in a run journal, whose
// request pins the model, plan and calibration the state depends on; the
// state's own key (the refinement's parameters and linears) guards the rest.

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace qs::methods {

struct RilqValidation {
  double loss = 0.0;
  double hidden = 0.0;  // MSE of the last hidden state against the FP model's
  double ce = 0.0;      // next-token cross-entropy
};

struct RilqCheckpoint {
  // Per adapter, in the order of the linears the refinement was given.
  std::vector<torch::Tensor> a, b, best_a, best_b;
  std::vector<bool> had_gradient;
  // Per trained tensor (adapter 0's a and b, then adapter 1's, ...): Adam's
  // step count, 0 where it has not stepped it (and has no moments).
  std::vector<int64_t> adam_step;
  std::vector<torch::Tensor> exp_avg, exp_avg_sq;
  int64_t steps = 0;  // training sequences seen
  int64_t optimizer_steps = 0;
  int64_t stale = 0;  // validations since the best
  int64_t best_step = 0;
  RilqValidation initial, best;
};

// Adam's state of `params` (or none where it has not stepped one yet) into
// `c`, and back. The tensors are shared, not copied: save before stepping on.
void capture_adam(torch::optim::Adam& adam, const std::vector<torch::Tensor>& params, RilqCheckpoint& c);
void restore_adam(torch::optim::Adam& adam, const std::vector<torch::Tensor>& params, const RilqCheckpoint& c);

// Throws qs::IoError naming the file (disk full, unwritable directory).
void save_rilq_checkpoint(const std::filesystem::path& file, const std::string& key, const RilqCheckpoint& c);

// The state in `file`, or nullopt when there is none. `a_like` and `b_like`
// are the adapters it must fit. Throws qs::FormatError naming the file and
// the entry when it is damaged, was written under another key, or does not
// fit; qs::IoError when it cannot be read.
std::optional<RilqCheckpoint> load_rilq_checkpoint(const std::filesystem::path& file, const std::string& key,
                                                   const std::vector<torch::Tensor>& a_like,
                                                   const std::vector<torch::Tensor>& b_like);

}  // namespace qs::methods
