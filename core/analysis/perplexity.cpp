#include "core/analysis/perplexity.h"

#include <chrono>
#include <cmath>

#include "core/error.h"

namespace qs::analysis {

const char* protocol_name(PplProtocol p) { return p == PplProtocol::LlamaCpp ? "llamacpp" : "hf"; }

PerplexityResult perplexity(model::Decoder& decoder, const std::vector<int32_t>& tokens,
                            const PerplexityOptions& o, Feedback* feedback) {
  const bool llamacpp = o.protocol == PplProtocol::LlamaCpp;
  const int64_t n_ctx = o.ctx;
  if (n_ctx < 4) throw ArgumentError("perplexity: ctx must be at least 4, got " + std::to_string(n_ctx));
  const int64_t n_tokens = static_cast<int64_t>(tokens.size());
  const int64_t min_tokens = llamacpp ? 2 * n_ctx : n_ctx;
  if (n_tokens < min_tokens)
    throw ArgumentError("perplexity: the text has " + std::to_string(n_tokens) +
                        " tokens, at least " + std::to_string(min_tokens) + " are needed for ctx " +
                        std::to_string(n_ctx));
  if (llamacpp && o.replace_first_with_bos && o.bos_id < 0)
    throw ArgumentError("perplexity: BOS requested but the tokenizer has no BOS id");
  int64_t n_chunks = n_tokens / n_ctx;
  if (o.limit_chunks > 0) n_chunks = std::min(n_chunks, o.limit_chunks);
  const int64_t batch = std::max<int64_t>(1, o.batch);
  // First logit position that predicts a scored token.
  const int64_t first = llamacpp ? n_ctx / 2 : 0;

  const auto all = torch::from_blob(const_cast<int32_t*>(tokens.data()), {n_tokens}, torch::kInt32)
                       .to(torch::kInt64);
  PerplexityResult r;
  double nll_sum = 0.0;
  const auto t0 = std::chrono::steady_clock::now();
  if (feedback) feedback->progress("perplexity", 0, n_chunks);
  for (int64_t c0 = 0; c0 < n_chunks; c0 += batch) {
    if (feedback) feedback->check_cancelled();
    const int64_t nb = std::min(batch, n_chunks - c0);
    auto ids = all.narrow(0, c0 * n_ctx, nb * n_ctx).view({nb, n_ctx}).clone();
    const auto targets = ids.narrow(1, first + 1, n_ctx - first - 1).to(decoder.device());
    if (llamacpp && o.replace_first_with_bos) ids.select(1, 0).fill_(o.bos_id);
    // Logits at first .. n_ctx-2 predict tokens first+1 .. n_ctx-1.
    auto logits = decoder.forward_tail(ids, first).narrow(1, 0, n_ctx - first - 1);
    auto logp = torch::log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1);
    auto per_chunk = (-logp).to(torch::kFloat64).sum(1).cpu();
    const auto acc = per_chunk.accessor<double, 1>();
    for (int64_t i = 0; i < nb; ++i) {
      nll_sum += acc[i];
      r.scored_tokens += n_ctx - first - 1;
      r.running_ppl.push_back(std::exp(nll_sum / static_cast<double>(r.scored_tokens)));
    }
    r.chunks += nb;
    r.processed_tokens += nb * n_ctx;
    if (feedback) feedback->progress("perplexity", r.chunks, n_chunks);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.mean_nll = nll_sum / static_cast<double>(r.scored_tokens);
  r.ppl = std::exp(r.mean_nll);
  r.tokens_per_second = r.seconds > 0 ? static_cast<double>(r.processed_tokens) / r.seconds : 0.0;
  return r;
}

}  // namespace qs::analysis
