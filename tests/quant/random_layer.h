#pragma once
// A round-to-nearest QuantizedLinear of a standard-normal weight, for the
// tests of records and their linear ops (seed torch first).

#include <torch/torch.h>

#include "core/quant/quantized_linear.h"

namespace qs::test {

inline quant::QuantizedLinear random_layer(int64_t out, int64_t in, int bits, int64_t group) {
  return quant::QuantizedLinear::round_to_nearest(torch::randn({out, in}), {bits, group, false, 1.0});
}

}  // namespace qs::test
