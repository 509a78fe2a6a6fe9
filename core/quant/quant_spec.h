#pragma once
// How one weight matrix is put on a uniform integer grid: bits, grouping along
// the input dimension, symmetric or asymmetric, and a clip ratio.

#include <cstdint>
#include <string>

namespace qs::quant {

struct QuantSpec {
  int bits = 4;               // 2..8
  int64_t group_size = 128;   // along the input dimension; 0: one group per row (per-channel)
  bool symmetric = false;     // true: zero point fixed at 2^(bits-1)
  double clip_ratio = 1.0;    // (0, 1]: the range of each group is shrunk by this factor

  int64_t max_code() const { return (int64_t{1} << bits) - 1; }
  // The group size actually used for a matrix with `in_features` columns.
  int64_t effective_group(int64_t in_features) const {
    return group_size > 0 && group_size < in_features ? group_size : in_features;
  }
  // Groups per row. When the group does not divide the row (576 columns in
  // groups of 128), the last group is shorter, as in GPTQ (compressed-tensors and
  // AWQ checkpoints cannot hold that; their exporters refuse it).
  int64_t num_groups(int64_t in_features) const {
    const int64_t g = effective_group(in_features);
    return (in_features + g - 1) / g;
  }
  // Throws qs::ConfigError naming `source` and the field when out of range.
  void validate(const std::string& source) const;
  // "W4g128", "W3" (per-channel), "W4g128-sym".
  std::string label() const;
};

}  // namespace qs::quant
