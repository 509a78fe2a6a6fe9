#pragma once
// How far a quantized model's next-token distributions are from the FP
// model's, token by token: KL(P_fp ‖ P_q) at every scored position of a few
// evaluation windows. Perplexity only sees the probability of the true next
// token; the KL sees the whole distribution, so it moves first when a block
// starts to hurt (the live-run chart plots both). The FP log-probabilities
// are captured once (windows × (ctx − 1) × vocab float32: 4 windows of 128
// tokens of a 49k vocabulary are 100 MB) and each measurement reuses the
// same forward pass for the perplexity.

#include <cstdint>
#include <vector>

#include "core/feedback.h"
#include "core/model/decoder.h"

namespace qs::analysis {

struct DivergenceResult {
  std::vector<double> per_token_kl;  // nats, one per scored position, window after window
  double mean_kl = 0.0;
  double p99_kl = 0.0;  // 99th percentile of per_token_kl
  double ppl = 0.0;     // of the same windows, HF protocol
};

class DivergenceReference {
 public:
  // The FP model's log-probabilities on the first `windows` non-overlapping
  // windows of `ctx` tokens of `tokens` (HF protocol: every position but the
  // last predicts the next token). Throws qs::ArgumentError when the text is
  // shorter than one window, qs::Cancelled when cancelled.
  static DivergenceReference capture(model::Decoder& fp, const std::vector<int32_t>& tokens, int64_t ctx,
                                     int64_t windows, Feedback* feedback = nullptr);

  // KL(P_fp ‖ P_decoder) per scored token and the perplexity of the same windows.
  DivergenceResult measure(model::Decoder& decoder, Feedback* feedback = nullptr) const;
  double fp_ppl() const { return fp_ppl_; }

 private:
  torch::Tensor ids_;        // int64 [windows, ctx]
  torch::Tensor fp_logp_;    // float32 [windows, ctx - 1, vocab], CPU
  double fp_ppl_ = 0.0;
};

}  // namespace qs::analysis
