#pragma once
// Perplexity under the two protocols papers and tools compare against.
//
// LlamaCpp — llama.cpp's llama-perplexity: the token stream is cut into
//   windows of ctx tokens; when the model wants BOS the first token of each
//   window is replaced by BOS; only the second half of each window is scored
//   (every token there has at least ctx/2 tokens of context).
// Hf — the HF / GPTQ evaluation: the test rows joined with "\n\n" (see
//   join_rows_hf), cut into non-overlapping windows of ctx tokens, the mean NLL
//   over every predicted token (ctx - 1 per window).

#include <cstdint>
#include <string>
#include <vector>

#include "core/feedback.h"
#include "core/model/decoder.h"

namespace qs::analysis {

enum class PplProtocol { LlamaCpp, Hf };
const char* protocol_name(PplProtocol p);

struct PerplexityOptions {
  PplProtocol protocol = PplProtocol::LlamaCpp;
  int64_t ctx = 512;
  int64_t limit_chunks = 0;  // 0: every full window
  int64_t batch = 1;         // windows per forward pass
  bool replace_first_with_bos = false;  // LlamaCpp: the model's add_bos flag
  int32_t bos_id = -1;
};

struct PerplexityResult {
  double ppl = 0.0;
  double mean_nll = 0.0;
  int64_t chunks = 0;
  int64_t scored_tokens = 0;
  int64_t processed_tokens = 0;  // tokens run through the model
  double seconds = 0.0;
  double tokens_per_second = 0.0;
  std::vector<double> running_ppl;  // estimate after each window, as llama-perplexity prints
};

// Throws qs::ArgumentError when there are fewer tokens than one window (two
// for LlamaCpp, like llama-perplexity) and qs::Cancelled when cancelled.
PerplexityResult perplexity(model::Decoder& decoder, const std::vector<int32_t>& tokens,
                            const PerplexityOptions& options, Feedback* feedback = nullptr);

}  // namespace qs::analysis
