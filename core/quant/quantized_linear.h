#pragma once
// QuantizedLinear: the one result type of every method. Export, kernels, the
// project file and the GUI consume only this.
//
// The layer computes   y = W_hat · T(x) + bias + lora_b · (lora_a · x)
// where W_hat = (codes - zeros) * scales group-wise, T is the optional
// transform (identity when undefined) and the low-rank branch is optional.
// `input_scale` s records a smoothing scale already folded into the previous
// op (AWQ): that op outputs x / s and the codes quantize W · diag(s). It is
// kept so analysis and exporters can see it; the forward does not apply it.

#include <torch/torch.h>

#include <memory>
#include <string>

#include "core/quant/quant_spec.h"

namespace qs::quant {

struct QuantizedLinear {
  QuantSpec spec;               // group_size is the effective group (never 0)
  int64_t in_features = 0;
  int64_t out_features = 0;
  // The codes, held one of two ways: `codes` uint8 [out, in] with every value
  // < 2^bits, as a method produces them; or `packed_codes` int32 [out,
  // packed_words(in, bits)] in quant/packing's layout, as a checkpoint stores
  // them and a streamed run keeps finished blocks (often mapped from a file:
  // half the bytes at 4 bits, and no pages resident until unpacked; a GPTQ
  // checkpoint's words are this layout transposed, so there it is a strided
  // view). Exactly one is defined; read them through unpacked_codes() or
  // packed().
  torch::Tensor codes;
  torch::Tensor packed_codes;
  torch::Tensor scales;         // float32 [out, groups]
  torch::Tensor zeros;          // int32 [out, groups]
  torch::Tensor g_idx;          // optional int32 [in]: group of each input column (act-order)
  torch::Tensor bias;           // optional [out]
  torch::Tensor input_scale;    // optional float32 [in], see above
  torch::Tensor transform;      // optional float32 [in, in], applied to x before W_hat
  torch::Tensor lora_a;         // optional float32 [rank, in]
  torch::Tensor lora_b;         // optional float32 [out, rank]

  // Round-to-nearest on the min/max grid of `spec` (the RTN baseline, and the
  // last step of methods that only transform the weight first).
  static QuantizedLinear round_to_nearest(const torch::Tensor& weight, const QuantSpec& spec);

  // A copy with every tensor on `device` (records are kept on the CPU).
  QuantizedLinear to(torch::Device device) const;

  int64_t groups() const { return scales.defined() ? scales.size(1) : 0; }
  // uint8 [out, in] on the codes' device: `codes`, or `packed_codes` unpacked
  // into a new tensor.
  torch::Tensor unpacked_codes() const;
  // Contiguous int32 packed words on the CPU: `packed_codes`, or `codes` packed.
  torch::Tensor packed() const;
  // The same record holding its codes packed.
  QuantizedLinear with_packed_codes() const;
  // float32 [out, in] on the codes' device.
  torch::Tensor dequantized_weight() const;
  // The dense matrix the layer is equivalent to: W_hat · T + lora_b · lora_a.
  torch::Tensor effective_weight() const;
  // Throws qs::FormatError naming `source` and `name` when shapes, dtypes or
  // code ranges are inconsistent.
  void validate(const std::string& source, const std::string& name) const;
};

// What surrounds a record's quantized matrix, on a device in a dtype: bias,
// input transform and low-rank branch. Every op computing a QuantizedLinear
// applies them through this, so the ops agree by construction.
struct LinearSideParts {
  torch::Tensor bias;
  torch::Tensor transform;
  torch::Tensor lora_a;
  torch::Tensor lora_b;

  LinearSideParts() = default;
  LinearSideParts(const QuantizedLinear& q, torch::Device device, torch::ScalarType dtype);
  torch::Tensor input(const torch::Tensor& x) const;                        // T·x, or x
  torch::Tensor add_branch(torch::Tensor y, const torch::Tensor& x) const;  // y + B·(A·x)
  torch::Tensor dense(torch::Tensor w_hat) const;                           // W_hat·T + B·A
};

}  // namespace qs::quant
