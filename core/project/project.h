#pragma once
// A QuantScope session as plain data: which model, which settings, what each
// linear got and measured, the analyses cached for the inspector and the run's
// results. core/project/project_file writes it as a `.qsproj` HDF5 file.

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/quant/method_params.h"
#include "core/quant/quant_spec.h"
#include "core/quant/quantized_linear.h"

namespace qs::project {

inline constexpr int64_t kSchemaVersion = 1;

struct ModelRef {
  std::string path;          // as the user opened it
  std::string fingerprint;   // io::file_fingerprint at save time
  std::string architecture;  // "LlamaForCausalLM"
  int64_t num_layers = 0;
};

struct Settings {
  std::string calibration_text;
  int64_t nsamples = 32;
  int64_t seqlen = 512;
  int64_t seed = 0;
  std::string eval_text;
  std::string eval_protocol = "hf";
  int64_t eval_ctx = 2048;
  int64_t eval_limit = 0;  // windows; 0: all
  std::string device = "cpu";
  std::string dtype = "fp32";
  std::string plan_json = "{}";  // the per-layer rules as QuantPlan::from_json reads them
};

struct LayerEntry {
  std::string name;  // "model.layers.3.mlp.up_proj"
  std::string method = "rtn";
  quant::QuantSpec spec;
  std::map<std::string, quant::ParamValue> params;
  bool has_metrics = false;
  double weight_mse = 0.0;
  double output_rel_mse = 0.0;
  double seconds = 0.0;
  // The quantized codes, so a project reopens without re-running; null when
  // the layer was not run or is kept in FP.
  std::shared_ptr<const quant::QuantizedLinear> record;
  // Cached inspector data by name ("act_abs_max", "sv_weight", "error_map",
  // ...), float32 CPU tensors of any shape.
  std::map<std::string, torch::Tensor> analyses;
};

struct BlockMetrics {
  int64_t layer = 0;
  double output_mse = 0.0;
  double output_rel_mse = 0.0;
  double seconds = 0.0;
  double fp_rel_mse = std::numeric_limits<double>::quiet_NaN();  // see pipeline::BlockResult
};

// Perplexity with blocks [0, blocks) quantized, on the run's held-out slice.
struct PerplexityPoint {
  int64_t blocks = 0;
  double ppl = 0.0;
};

struct KernelTiming {
  int64_t batch = 1;
  int64_t out_features = 0;
  int64_t in_features = 0;
  int64_t bits = 4;
  int64_t group_size = 128;
  double fp16_us = 0.0;
  double packed_us = 0.0;
  double gbps = 0.0;
};

struct Results {
  double ppl_fp = std::nan("");
  double ppl_quantized = std::nan("");
  std::vector<PerplexityPoint> curve;
  std::vector<BlockMetrics> blocks;
  std::vector<KernelTiming> kernels;
};

struct Project {
  ModelRef model;
  Settings settings;
  std::vector<LayerEntry> layers;  // in model order
  // Non-linear tensors the run changed (norm weights that absorbed AWQ
  // scales), under their HF names, so the quantized model is rebuilt exactly.
  std::map<std::string, torch::Tensor> modified_tensors;
  Results results;
};

}  // namespace qs::project
