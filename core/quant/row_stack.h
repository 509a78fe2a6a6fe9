#pragma once
// Quantized linears that read one input, joined as one and split again by
// output rows: how a checkpoint that stores them fused (Phi-3's qkv_proj and
// gate_up_proj) holds the logical linears QuantScope quantizes one by one.

#include <memory>
#include <string>
#include <vector>

#include "core/quant/quantized_linear.h"

namespace qs::quant {

// One record with the parts' rows in order. The parts must agree on what a
// row cannot carry alone (spec, columns, act-order groups, folded input
// scale) and hold no input transform or low-rank branch; otherwise throws
// qs::ArgumentError naming `name` and the difference. Biases join, a part
// without one giving zeros.
QuantizedLinear stack_rows(const std::vector<std::shared_ptr<const QuantizedLinear>>& parts, const std::string& name);

// Rows [first, first + n) of `q` as a record of their own: views where `q`
// holds its codes packed (a mapped file's words stay in the file).
QuantizedLinear slice_rows(const QuantizedLinear& q, int64_t first, int64_t n);

}  // namespace qs::quant
