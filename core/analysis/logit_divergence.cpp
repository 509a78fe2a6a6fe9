#include "core/analysis/logit_divergence.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace qs::analysis {
namespace {

// log-probabilities [ctx - 1, vocab] of one window, float32 on the CPU.
torch::Tensor window_logp(model::Decoder& decoder, const torch::Tensor& window) {
  torch::NoGradGuard no_grad;
  const int64_t ctx = window.size(0);
  const auto logits = decoder.forward(window.unsqueeze(0)).squeeze(0).narrow(0, 0, ctx - 1);
  return torch::log_softmax(logits.to(torch::kFloat32), -1).cpu();
}

double nll_of(const torch::Tensor& logp, const torch::Tensor& window) {
  const auto targets = window.narrow(0, 1, window.size(0) - 1).unsqueeze(1);
  return -logp.gather(1, targets).to(torch::kFloat64).sum().item<double>();
}

}  // namespace

DivergenceReference DivergenceReference::capture(model::Decoder& fp, const std::vector<int32_t>& tokens, int64_t ctx,
                                                 int64_t windows, Feedback* feedback) {
  if (ctx < 2) throw ArgumentError("KL divergence: ctx must be at least 2, got " + std::to_string(ctx));
  const int64_t available = static_cast<int64_t>(tokens.size()) / ctx;
  if (available < 1)
    throw ArgumentError("KL divergence: the text has " + std::to_string(tokens.size()) + " tokens, at least " +
                        std::to_string(ctx) + " are needed for ctx " + std::to_string(ctx));
  const int64_t n = windows > 0 ? std::min(windows, available) : available;
  DivergenceReference r;
  r.ids_ = torch::from_blob(const_cast<int32_t*>(tokens.data()), {n * ctx}, torch::kInt32)
               .to(torch::kInt64)
               .view({n, ctx})
               .clone();
  std::vector<torch::Tensor> logps;
  double nll = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (feedback) feedback->check_cancelled();
    logps.push_back(window_logp(fp, r.ids_[i]));
    nll += nll_of(logps.back(), r.ids_[i]);
  }
  r.fp_logp_ = torch::stack(logps);
  r.fp_ppl_ = std::exp(nll / static_cast<double>(n * (ctx - 1)));
  return r;
}

DivergenceResult DivergenceReference::measure(model::Decoder& decoder, Feedback* feedback) const {
  DivergenceResult out;
  const int64_t n = ids_.size(0);
  double nll = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (feedback) feedback->check_cancelled();
    const auto q = window_logp(decoder, ids_[i]);
    const auto& p = fp_logp_[i];
    // Σ_v p_v (log p_v − log q_v), in float64 so tiny probabilities add up exactly enough.
    const auto kl = (p.exp().to(torch::kFloat64) * (p - q).to(torch::kFloat64)).sum(-1).clamp_min(0.0).contiguous();
    const double* k = kl.data_ptr<double>();
    out.per_token_kl.insert(out.per_token_kl.end(), k, k + kl.numel());
    nll += nll_of(q, ids_[i]);
  }
  const auto count = static_cast<double>(out.per_token_kl.size());
  double sum = 0.0;
  for (double v : out.per_token_kl) sum += v;
  out.mean_kl = sum / count;
  auto sorted = out.per_token_kl;
  const auto k99 = static_cast<size_t>(std::ceil(0.99 * count)) - 1;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k99), sorted.end());
  out.p99_kl = sorted[k99];
  out.ppl = std::exp(nll / count);
  return out;
}

}  // namespace qs::analysis
