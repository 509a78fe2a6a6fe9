#include "app/cli/eval_text.h"

#include "core/text/text_file.h"

namespace qs::cli {

std::vector<int32_t> tokenize_eval_text(const text::Tokenizer& tokenizer, const std::string& path, bool hf) {
  std::string text = text::read_text_file(path);
  if (hf) text = text::join_rows_hf(text);
  std::vector<int32_t> tokens;
  if (tokenizer.add_bos()) tokens.push_back(tokenizer.bos_id());
  const auto body = tokenizer.encode(text);
  tokens.insert(tokens.end(), body.begin(), body.end());
  return tokens;
}

analysis::PerplexityOptions eval_options(const text::Tokenizer& tokenizer, bool hf, int64_t ctx, int64_t limit_chunks,
                                         int64_t batch) {
  analysis::PerplexityOptions o;
  o.protocol = hf ? analysis::PplProtocol::Hf : analysis::PplProtocol::LlamaCpp;
  o.ctx = ctx;
  o.limit_chunks = limit_chunks;
  o.batch = batch;
  o.replace_first_with_bos = !hf && tokenizer.add_bos();
  o.bos_id = tokenizer.bos_id();
  return o;
}

}  // namespace qs::cli
