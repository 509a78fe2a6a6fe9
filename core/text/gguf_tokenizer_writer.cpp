#include "core/text/gguf_tokenizer_writer.h"

#include <string>
#include <vector>

#include "core/error.h"
#include "core/text/gguf_vocab.h"
#include "core/text/tokenizer_json.h"

namespace qs::text {

void add_gguf_tokenizer(const std::filesystem::path& tokenizer_json, int64_t vocab_size, io::GgufWriter& w) {
  const std::string file = tokenizer_json.string();
  const TokenizerJson t = read_tokenizer_json(tokenizer_json);
  if (!t.byte_level)
    throw ConfigError(file, "pre_tokenizer",
                      "a SentencePiece-style vocabulary is not written to GGUF yet (byte-level BPE is); export "
                      "from the model's GGUF, or --format compressed-tensors, gptq or awq");
  if (t.byte_level_prefix)
    throw ConfigError(file, "pre_tokenizer.add_prefix_space", "llama.cpp's byte-level tokenizers add no prefix space");
  const auto pre = gguf_pre_tokenizer_name({t.steps, t.model.ignore_merges});
  if (!pre)
    throw ConfigError(file, "pre_tokenizer",
                      "llama.cpp has no tokenizer.ggml.pre name for this pre-tokenizer (it knows GPT-2's, "
                      "SmolLM's, Llama-3's and Qwen2's)");
  const auto stored = static_cast<int64_t>(t.model.tokens.size());
  if (stored > vocab_size)
    throw ConfigError(
        file, "model.vocab",
        std::to_string(stored) + " tokens, more than the model's " + std::to_string(vocab_size) + " embedding rows");

  std::vector<std::string> tokens(t.model.tokens.begin(), t.model.tokens.end());
  std::vector<int64_t> types(static_cast<size_t>(vocab_size), kGgufNormal);
  tokens.resize(static_cast<size_t>(vocab_size));
  for (size_t id = 0; id < tokens.size(); ++id)
    if (tokens[id].empty()) {
      tokens[id] = "[PAD" + std::to_string(id) + "]";
      types[id] = kGgufUnused;
    }
  for (const auto& a : t.added) types[static_cast<size_t>(a.id)] = a.special ? kGgufControl : kGgufUserDefined;
  std::vector<std::string> merges;
  for (const auto& [left, right] : t.model.merges_by_rank())
    merges.push_back(t.model.tokens[static_cast<size_t>(left)] + " " + t.model.tokens[static_cast<size_t>(right)]);

  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", *pre);
  w.add_string_array("tokenizer.ggml.tokens", tokens);
  w.add_int_array("tokenizer.ggml.token_type", types);
  w.add_string_array("tokenizer.ggml.merges", merges);
  if (t.special.bos >= 0) w.add_uint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(t.special.bos));
  if (t.special.eos >= 0) w.add_uint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(t.special.eos));
  w.add_bool("tokenizer.ggml.add_bos_token", t.special.add_bos);
}

}  // namespace qs::text
