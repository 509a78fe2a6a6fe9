#pragma once
// Calibration data: N windows of L tokens cut at seeded random positions of
// one tokenized text, as GPTQ's and AWQ's scripts sample their calibration
// sets. The same (text, tokenizer, N, L, seed) always gives the same windows.

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace qs::text {

struct CalibrationSet {
  torch::Tensor ids;   // int64 [N, L], CPU
  std::string source;  // the text it came from
  uint64_t seed = 0;

  int64_t samples() const { return ids.defined() ? ids.size(0) : 0; }
  int64_t seqlen() const { return ids.defined() ? ids.size(1) : 0; }
};

// Throws qs::ArgumentError naming `source` when the text has fewer than
// `len` + 1 tokens or n, len are not positive.
CalibrationSet sample_calibration(const std::vector<int32_t>& tokens, int64_t n, int64_t len, uint64_t seed,
                                  const std::string& source);

}  // namespace qs::text
