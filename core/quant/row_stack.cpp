#include "core/quant/row_stack.h"

#include "core/error.h"

namespace qs::quant {
namespace {

bool same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.defined() == b.defined() && (!a.defined() || (a.sizes() == b.sizes() && torch::equal(a, b)));
}

}  // namespace

QuantizedLinear stack_rows(const std::vector<std::shared_ptr<const QuantizedLinear>>& parts, const std::string& name) {
  QS_ASSERT(!parts.empty(), "stack_rows needs parts");
  const QuantizedLinear& first = *parts.front();
  const auto refuse = [&](const std::string& why) {
    throw ArgumentError(name + " is stored fused, and its parts " + why + "; quantize them alike to export");
  };
  bool any_bias = false;
  for (const auto& p : parts) {
    if (p->spec.bits != first.spec.bits || p->spec.group_size != first.spec.group_size ||
        p->spec.symmetric != first.spec.symmetric)
      refuse("differ in setting (" + first.spec.label() + " and " + p->spec.label() + ")");
    if (p->in_features != first.in_features) refuse("differ in width");
    if (!same(p->g_idx, first.g_idx)) refuse("have different act-order groups");
    if (!same(p->input_scale, first.input_scale)) refuse("carry different smoothing scales");
    if (p->transform.defined()) refuse("carry an input transform");
    if (p->lora_a.defined()) refuse("carry a low-rank branch");
    any_bias = any_bias || p->bias.defined();
  }
  QuantizedLinear q;
  q.spec = first.spec;
  q.in_features = first.in_features;
  q.g_idx = first.g_idx;
  q.input_scale = first.input_scale;
  std::vector<torch::Tensor> packed, scales, zeros, bias;
  for (const auto& p : parts) {
    q.out_features += p->out_features;
    packed.push_back(p->packed());
    scales.push_back(p->scales);
    zeros.push_back(p->zeros);
    if (any_bias) bias.push_back(p->bias.defined() ? p->bias.to(torch::kFloat32) : torch::zeros({p->out_features}));
  }
  q.packed_codes = torch::cat(packed, 0);
  q.scales = torch::cat(scales, 0);
  q.zeros = torch::cat(zeros, 0);
  if (any_bias) q.bias = torch::cat(bias, 0);
  return q;
}

QuantizedLinear slice_rows(const QuantizedLinear& q, int64_t first, int64_t n) {
  QS_ASSERT(first >= 0 && n > 0 && first + n <= q.out_features, "slice_rows outside the record");
  QuantizedLinear s = q;
  s.out_features = n;
  for (auto* t : {&s.codes, &s.packed_codes, &s.scales, &s.zeros, &s.bias, &s.lora_b})
    if (t->defined()) *t = t->narrow(0, first, n);
  return s;
}

}  // namespace qs::quant
