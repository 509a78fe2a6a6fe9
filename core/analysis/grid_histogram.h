#pragma once
// How a linear's weights sit on its quantization grid, for the inspector's
// Histogram tab. Float32 CPU tensors keyed by name, cached in projects with
// the other analyses:
//   hist_weight        [bins]  counts of W's values over hist_weight_range
//   hist_weight_range  [2]     (min W, max W)
//   hist_grid          [2^b]   the dequantized levels of the group with the
//                              widest grid (largest scale): where the step,
//                              and so the rounding error, is largest
//   hist_grid_group    [2]     (output row, group) of that group
//   hist_code          [2^b · k]  every weight's continuous position on its own
//                              group's grid, w / scale + zero before rounding,
//                              over [−0.5, 2^b − 0.5] in k bins per level;
//                              positions outside (clipped weights) count in
//                              the end bins. Mass crowding the middle levels
//                              means outliers stretch the groups' ranges.

#include <torch/torch.h>

#include <map>
#include <string>

#include "core/quant/quantized_linear.h"

namespace qs::analysis {

// `weight`: the matrix the record quantizes [out, in].
std::map<std::string, torch::Tensor> grid_histogram(const torch::Tensor& weight, const quant::QuantizedLinear& q,
                                                    int64_t bins = 128);

// Bins per grid level of hist_code at `bits`: about 512 bins in all.
int64_t code_bins_per_level(int bits);

}  // namespace qs::analysis
