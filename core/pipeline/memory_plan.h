#pragma once
// What a block-by-block run will hold, stated before it starts: the weights
// resident, the calibration activations, one batch's working set, the method's
// own (GPTQ's Hessians and solve; RTN's and AWQ's copies of one linear), and
// the codes kept of finished blocks, on the device that computes and on the
// host. A run whose need exceeds what the machine has is refused with these
// numbers instead of being killed by the system part way.

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/model/model_config.h"

namespace qs::pipeline {

struct MemoryPlanRequest {
  model::ModelConfig config;
  torch::Device device{torch::kCPU};
  torch::ScalarType dtype = torch::kFloat32;
  std::string method = "rtn";  // a registered method, at its default parameters
  int64_t nsamples = 32;
  int64_t seqlen = 512;
  int64_t batch = 8;
  int64_t resident_blocks = 1;  // 0: every block
  bool spill_codes = true;      // finished blocks' codes go to disk (PipelineOptions::spill_dir)
  int64_t eval_ctx = 0;         // tokens per perplexity window the run measures; 0: none
};

struct MemoryItem {
  std::string what;
  int64_t device_bytes = 0;
  int64_t host_bytes = 0;  // beyond the device's, when the device is a GPU
};

struct MemoryPlan {
  std::vector<MemoryItem> items;
  int64_t device_peak = 0;  // the sum of the items: they can all be live at once
  int64_t host_peak = 0;    // on a CPU run, the same as device_peak
  bool modeled = true;      // false for a method whose working set is not modeled (learned methods)
  std::string note;         // why not, when not
};

// Bytes the process holds before any model: libtorch and its kernels, as
// measured (the CLI's peak RSS for `info`, 0.6 GiB).
inline constexpr int64_t kRuntimeBytes = 600ll << 20;

// Throws qs::ConfigError naming the method when there is none of that name.
MemoryPlan plan_memory(const MemoryPlanRequest& r);

// A refinement (RILQ) over a whole quantized model: one training sequence at
// a time through every block, against the FP model's last hidden states.
struct RefinementPlanRequest {
  model::ModelConfig config;
  torch::Device device{torch::kCPU};
  torch::ScalarType dtype = torch::kFloat32;
  int64_t nsamples = 32;
  int64_t seqlen = 512;
  int64_t resident_blocks = 1;  // 0: every block
  int64_t rank = 64;            // of each adapter, on every linear
};

// What it holds: the quantized and the FP model's resident blocks, the FP
// targets, one sequence's autograd state (per-block checkpoints when the
// blocks stream, the whole graph when they are resident), the logits and
// their gradient, and the adapters with Adam's moments.
MemoryPlan plan_refinement_memory(const RefinementPlanRequest& r);

// Whether a run of plan `p` fits what is available (-1: unknown, taken as
// enough): the device peak in the device's memory and, on a GPU run, the host
// peak in the host's. A plan that leaves its method's working set out always
// fits: refusing on a partial sum would turn away runs that fit.
bool fits(const MemoryPlan& p, torch::Device device, int64_t device_available, int64_t host_available);

// The plan as aligned lines with GiB, and the availability beside the peaks
// (-1: unknown).
std::string describe(const MemoryPlan& p, torch::Device device, int64_t device_available, int64_t host_available);

}  // namespace qs::pipeline
