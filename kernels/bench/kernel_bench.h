#pragma once
// Timing of the packed kernels against the dense baseline on the same device:
// FP16 cuBLAS (at::mm) on CUDA, fp32 at::mm on the CPU. Random codes, scales
// and activations (never zeros), a warm-up, the median of many timed batches of
// launches, and enough rotating weight copies that no launch finds its weight
// in the L2 cache left by the previous one. The device-to-device copy bandwidth
// is measured in the same run, so "fraction of copy bandwidth" compares like
// with like. Also used by the GUI's kernel speed panel.

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

namespace qs::kernels {

struct KernelShape {
  int64_t in = 0;   // k, input features
  int64_t out = 0;  // n, output features
};

struct KernelBenchOptions {
  std::vector<int> bits{4};
  int64_t group_size = 128;         // 0: one group per row
  std::vector<int64_t> batches{1};  // rows of x
  int warmup = 5;                   // untimed batches of launches
  int repeats = 25;                 // timed batches; the median is reported
  int launches_per_repeat = 10;     // launches between two timing events
  bool lut = false;                 // also time the LUT kernel at batch 1 for 2–4 bits
  at::Device device = at::kCPU;
};

struct KernelBenchRow {
  KernelShape shape;
  int bits = 0;
  int64_t group_size = 0;
  int64_t batch = 0;
  std::string kernel;         // packed_kernel_name(), or "cuda-lut" / "cpu-lut"
  bool lut = false;           // the LUT kernel's row (beside the default kernel's row)
  double baseline_us = 0;     // dense baseline, median per launch
  double packed_us = 0;       // ours, median per launch
  double packed_gbps = 0;     // bytes of packed weight + x + y per second
  double copy_fraction = 0;   // packed_gbps / copy_gbps
  double speedup = 0;         // baseline_us / packed_us
  double ideal_speedup = 0;   // dense weight bytes over packed weight bytes: the bound at batch 1
};

struct KernelBenchResult {
  std::string device;         // e.g. "NVIDIA H100 80GB HBM3" or "cpu"
  std::string baseline;       // what baseline_us measured
  double copy_gbps = 0;       // device-to-device copy (read + write bytes) per second
  std::vector<KernelBenchRow> rows;
};

// Throws std::invalid_argument when a shape cannot use the packed layout.
// `progress` is called before each configuration; an exception it throws stops
// the run and propagates (the GUI cancels that way).
KernelBenchResult run_kernel_bench(const std::vector<KernelShape>& shapes, const KernelBenchOptions& options,
                                   const std::function<void(const std::string&)>& progress = {});

// Geometric mean of the speed-ups of the rows with these bits and batch, of
// the default kernels or of the LUT kernel (0 when none).
double geomean_speedup(const KernelBenchResult& r, int bits, int64_t batch, bool lut = false);

// A fixed-width table of the rows and the geometric means, for terminals and docs.
std::string format_kernel_table(const KernelBenchResult& r);

}  // namespace qs::kernels
