#pragma once
// Uniform min/max quantization of a weight matrix, group-wise along the input
// dimension, with the conventions of llm-awq's pseudo_quantize_tensor:
//   asymmetric: scale = max(max - min, 1e-5) / (2^b - 1), zero = clamp(-round(min / scale), 0, 2^b - 1)
//   symmetric:  scale = max(|w|max, 1e-5) / (2^(b-1) - 1), zero = 2^(b-1)
//   code = clamp(round(w / scale) + zero, 0, 2^b - 1),  w_hat = (code - zero) * scale
// Codes are stored unsigned; a symmetric code minus 2^(b-1) is the signed value.

#include <torch/torch.h>

#include <functional>

#include "core/quant/quant_spec.h"

namespace qs::quant {

struct GroupParams {
  torch::Tensor scales;  // float32 [out, groups]
  torch::Tensor zeros;   // int32   [out, groups], integer zero points
};

// Columns [out, in] → [out, groups * group], repeating the last column, so a
// short last group reshapes like the others without changing its min/max.
torch::Tensor pad_to_groups(const torch::Tensor& w, int64_t group);

// Min and max of each group of `group` columns of w [out, in], the last group
// possibly shorter: [out, groups] each, differentiable as amin/amax, without
// the padded copy of w.
std::pair<torch::Tensor, torch::Tensor> group_min_max(const torch::Tensor& w, int64_t group);

// Per-group values [out, groups] spread to their columns: [out, in].
torch::Tensor expand_groups(const torch::Tensor& per_group, int64_t group, int64_t in);

// fn(x, a, b) with a and b ([out, groups]) lined up with x's columns ([out, in])
// in groups of `group`: as broadcast views over x seen as [out, groups, group]
// when the groups tile x, else expanded. A 4096 × 14336 weight's per-column
// scales are 235 MB that the broadcast never builds; the values are the same.
torch::Tensor apply_per_group(const torch::Tensor& x, const torch::Tensor& a, const torch::Tensor& b, int64_t group,
                              const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&,
                                                                const torch::Tensor&)>& fn);

// Parameters from the min/max of each group of `w` ([out, in], any float dtype),
// each range multiplied by spec.clip_ratio.
GroupParams compute_group_params(const torch::Tensor& w, const QuantSpec& spec);

// Parameters of one column slice [out, g] (one group): scales/zeros [out, 1].
// Used by column-wise methods (GPTQ) that fix a group's grid at its first column.
GroupParams compute_slice_params(const torch::Tensor& w_slice, const QuantSpec& spec);

// uint8 codes [out, in] of `w` under `p` (groups of `group` columns, the last
// possibly shorter).
torch::Tensor quantize_codes(const torch::Tensor& w, const GroupParams& p, int64_t group, int bits);

// float32 [out, in] from codes. g_idx (int32/64 [in], optional) gives each
// input column's group; without it column j belongs to group j / group.
torch::Tensor dequantize(const torch::Tensor& codes, const torch::Tensor& scales, const torch::Tensor& zeros,
                         int64_t group, const torch::Tensor& g_idx = {});

// Round-trip of one column set [out, k] against per-row params [out, 1]: the
// dequantized values, in w's dtype.
torch::Tensor fake_quantize_columns(const torch::Tensor& w, const torch::Tensor& scale,
                                    const torch::Tensor& zero, int bits);

// Quantize then dequantize the whole matrix (float32 result).
torch::Tensor fake_quantize(const torch::Tensor& w, const QuantSpec& spec);

}  // namespace qs::quant
