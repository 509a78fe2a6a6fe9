#pragma once
// Evaluation text and perplexity options shared by `eval` and `quantize`, so
// both score a model on exactly the same tokens.

#include <cstdint>
#include <string>
#include <vector>

#include "core/analysis/perplexity.h"
#include "core/text/tokenizer.h"

namespace qs::cli {

// The file's tokens as the protocol wants them: HF joins rows with "\n\n";
// a BOS is prepended when the tokenizer adds one.
std::vector<int32_t> tokenize_eval_text(const text::Tokenizer& tokenizer, const std::string& path, bool hf);

analysis::PerplexityOptions eval_options(const text::Tokenizer& tokenizer, bool hf, int64_t ctx, int64_t limit_chunks,
                                         int64_t batch);

}  // namespace qs::cli
