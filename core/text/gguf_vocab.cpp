#include "core/text/gguf_vocab.h"

#include "core/error.h"
#include "core/io/gguf_file.h"

namespace qs::text {

GgufPreTokenizer gguf_pre_tokenizer(const io::GgufFile& g) {
  using Step = PreTokenizer::Step;
  const std::string key = "tokenizer.ggml.pre";
  const std::string pre = g.has(key) ? g.get_string(key) : "default";
  const Step gpt2{Step::Kind::kRegex, SplitPattern::kGpt2};
  if (pre == "default" || pre == "gpt-2" || pre == "gpt2") return {{gpt2}};
  // SmolLM's tokenizer.json isolates every digit before GPT-2's regex.
  if (pre == "smollm") return {{{Step::Kind::kDigits, SplitPattern::kGpt2, true}, gpt2}};
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" || pre == "smaug-bpe" ||
      pre == "dbrx")
    return {{{Step::Kind::kRegex, SplitPattern::kLlama3}}, true};
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") return {{{Step::Kind::kRegex, SplitPattern::kQwen2}}};
  throw ConfigError(g.path().string(), key,
                    "pre-tokenizer '" + pre + "' is not supported (default, gpt2, smollm, llama3, qwen2)");
}

}  // namespace qs::text
