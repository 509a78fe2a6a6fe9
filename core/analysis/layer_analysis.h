#pragma once
// What the layer inspector shows about one quantized linear, computed once and
// cached in the project: per-input-channel statistics, singular-value spectra
// of the weight and of its quantization error, and a group-level error map.
// All results are float32 CPU tensors keyed by name:
//   act_abs_max, act_mean_abs   [in]  of the inputs the layer saw (when given)
//   weight_abs_max              [in]  max |W[:, j]|
//   sv_weight, sv_error         [min(out, in)]  singular values of W and E = W − Q(W)
//   sv_scaled_error             [min(out, in)]  of E·diag(s), s = act_mean_abs (when given):
//                               the error as the layer's inputs weigh it
//   weight_mse                  [1]  mean of E²
//   sv_rank                     [1]  min(out, in), present only when the spectra
//                               above are the top of it (spectrum.h); then also
//   sv_weight_energy, sv_error_energy, sv_scaled_error_energy
//                               [1]  Σσ² of the whole spectrum (‖·‖_F²), so
//                               cumulative energy is a share of all of it
//   error_map                   [rows, cols]  max |E| per (output row, input group)
//                               cell, pooled with the max so no outlier is
//                               averaged away, at most max_rows × max_cols
//   hist_*                      how the weights sit on the grid (grid_histogram.h)

#include <torch/torch.h>

#include <map>
#include <string>

#include "core/analysis/spectrum.h"
#include "core/quant/quantized_linear.h"

namespace qs::analysis {

// Per-input-channel |x| statistics accumulated over batches of activations
// [..., in], in float64 so long runs do not lose the small channels.
class ChannelStats {
 public:
  void add(const torch::Tensor& x);
  bool empty() const { return count_ == 0; }
  torch::Tensor abs_max() const;   // float32 [in]
  torch::Tensor mean_abs() const;  // float32 [in]

 private:
  torch::Tensor abs_max_;
  torch::Tensor abs_sum_;
  int64_t count_ = 0;
};

struct LayerAnalysisOptions {
  int64_t max_rows = 256;
  int64_t max_cols = 256;
  SpectrumOptions spectrum;
};

// `weight`: the matrix the method quantized [out, in] (for AWQ the scaled
// one); `q`: its record; `inputs`: statistics of the layer's inputs, or empty.
std::map<std::string, torch::Tensor> analyze_layer(const torch::Tensor& weight, const quant::QuantizedLinear& q,
                                                   const ChannelStats& inputs,
                                                   const LayerAnalysisOptions& options = {});

// max |E| per (row, group) cell of `error` [out, in] with groups of
// `group_size` columns, then max-pooled to at most max_rows × max_cols.
torch::Tensor error_map(const torch::Tensor& error, int64_t group_size, int64_t max_rows, int64_t max_cols);

}  // namespace qs::analysis
