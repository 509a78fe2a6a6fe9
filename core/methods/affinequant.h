#pragma once
// AffineQuant (Ma et al. 2024, bytedance/AffineQuant) in its weight-only form:
// per block, learnable equivalent transforms (affine_fold.h) — a dense
// hidden×hidden matrix after each RMSNorm (`ln_matrix`, as every official
// LLaMA script and the Llama-2 W2 and per-channel W3 ones run it, with
// stability 1e-2; the Llama-2-7B W3/W4 g128 scripts run without it; off:
// diagonal scales folded into the norms)
// and one d×d matrix per KV head between v_proj and o_proj — initialised to
// the diagonal SmoothQuant scales (α = 0.5), trained with OmniQuant's
// clipping factors (LWC) on the block output against the FP model's
// trajectory. The gradual mask frees one more band of off-diagonals each
// epoch (weighted by the stability factor) until the matrices are full at
// the last epoch. At the end each matrix is checked for strict diagonal
// dominance; a transform that lost it is reported, and one that cannot be
// inverted stops the run with a message naming the layer.
//
// Channel shifts δ are learned with the transforms from zero, as the
// official code does for Llama too (`shifts`; affine_fold.h): an identity in
// FP that leaves (W − Ŵ·T)·δ in the biases of q/k/v/o/gate/up, a learned
// correction of the quantization error. Exports switch on the bias groups
// HF's Llama config has for them (export_biases.h).
//
// The official code's q/k channel scale is left out: it only matters when
// the QK product's activations are quantized, and under RoPE a scale on
// q_proj's and k_proj's rows does not fold exactly.

#include "core/quant/method.h"

namespace qs::methods {

class AffineQuantMethod final : public quant::Method {
 public:
  std::string name() const override { return "affinequant"; }
  std::string description() const override {
    return "AffineQuant: learned affine transforms after the norms and between v and o, with LWC (Ma et al. 2024)";
  }
  std::vector<quant::ParamSpec> param_specs() const override;
  int stage() const override { return 0; }  // it may rewrite the norms
  bool handles_experts() const override { return false; }
  bool uses_fp_trajectory(const quant::MethodParams&) const override { return true; }
  void quantize_block(methods::BlockContext& ctx, const quant::MethodParams& params) const override;
};

}  // namespace qs::methods
