#include "core/text/tokenizer_json_writer.h"

#include <nlohmann/json.hpp>

#include <unordered_set>

#include "core/error.h"
#include "core/io/gguf_file.h"
#include "core/text/gguf_vocab.h"
#include "core/text/tokenizer.h"

namespace qs::text {

namespace {

using json = nlohmann::json;
using Step = PreTokenizer::Step;

// GPT-2's regex as the last step is ByteLevel's own; any other split becomes
// an HF Split ahead of a ByteLevel that only maps bytes.
json pre_tokenizer_json(const std::vector<Step>& steps) {
  json list = json::array();
  bool byte_level_regex = false;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    if (s.kind == Step::Kind::kDigits) {
      list.push_back({{"type", "Digits"}, {"individual_digits", s.individual_digits}});
    } else if (i + 1 == steps.size() && s.pattern == SplitPattern::kGpt2) {
      byte_level_regex = true;
    } else {
      list.push_back({{"type", "Split"},
                      {"pattern", {{"Regex", std::string(split_pattern_regex(s.pattern))}}},
                      {"behavior", "Isolated"},
                      {"invert", false}});
    }
  }
  list.push_back(
      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", byte_level_regex}});
  if (list.size() == 1) return list[0];
  return {{"type", "Sequence"}, {"pretokenizers", list}};
}

// BOS before each sequence when the tokenizer adds one; otherwise `none`.
json post_processor_json(const Tokenizer& tok, const std::vector<std::string>& tokens, const json& none) {
  if (!tok.add_bos() || tok.bos_id() < 0) return none;
  const std::string& bos = tokens[static_cast<size_t>(tok.bos_id())];
  auto special = [&](int type_id) { return json{{"SpecialToken", {{"id", bos}, {"type_id", type_id}}}}; };
  auto sequence = [](const char* id, int type_id) { return json{{"Sequence", {{"id", id}, {"type_id", type_id}}}}; };
  return {{"type", "TemplateProcessing"},
          {"single", json::array({special(0), sequence("A", 0)})},
          {"pair", json::array({special(0), sequence("A", 0), special(1), sequence("B", 1)})},
          {"special_tokens", {{bos, {{"id", bos}, {"ids", json::array({tok.bos_id()})}, {"tokens", json::array({bos})}}}}}};
}

// The token an id key names, or null when the GGUF has none.
json token_or_null(const io::GgufFile& g, const std::string& key, const std::vector<std::string>& tokens) {
  if (!g.has(key)) return nullptr;
  const int64_t id = g.get_int(key);
  if (id < 0 || static_cast<size_t>(id) >= tokens.size())
    throw FormatError(g.path().string(), key,
                      "token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(tokens.size()));
  return tokens[static_cast<size_t>(id)];
}

// The byte-level parts: GPT-2's byte alphabet throughout, merges as listed.
void byte_level_parts(const io::GgufFile& g, const Tokenizer& tok, const std::vector<std::string>& tokens, json& doc) {
  const GgufPreTokenizer pre = gguf_pre_tokenizer(g);
  doc["pre_tokenizer"] = pre_tokenizer_json(pre.steps);
  doc["post_processor"] = post_processor_json(
      tok, tokens, {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}});
  doc["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  doc["model"]["fuse_unk"] = false;
  doc["model"]["byte_fallback"] = false;
  doc["model"]["ignore_merges"] = pre.ignore_merges;
  doc["model"]["merges"] = g.get_string_array("tokenizer.ggml.merges");
}

// The SentencePiece parts, as transformers' LlamaConverter writes them
// (legacy=False): "▁" for spaces and before the first piece (unless the GGUF
// says add_space_prefix false), <0xNN> byte tokens for what the vocabulary
// lacks, and the merges the GGUF lists or its scores give.
void sentencepiece_parts(const io::GgufFile& g, const Tokenizer& tok, const std::vector<std::string>& tokens,
                         json& doc) {
  const bool prefix = !g.has("tokenizer.ggml.add_space_prefix") || g.get_bool("tokenizer.ggml.add_space_prefix");
  doc["pre_tokenizer"] = {
      {"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", prefix ? "first" : "never"}, {"split", false}};
  doc["post_processor"] = post_processor_json(tok, tokens, nullptr);
  json decoders = json::array({{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                               {{"type", "ByteFallback"}},
                               {{"type", "Fuse"}}});
  if (prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  doc["decoder"] = {{"type", "Sequence"}, {"decoders", decoders}};
  BpeModel vocabulary;
  vocabulary.tokens = tokens;
  for (size_t id = 0; id < tokens.size(); ++id) vocabulary.add_token(tokens[id], static_cast<int32_t>(id));
  json merges = json::array();
  for (const auto& m : gguf_merges(g, vocabulary))
    merges.push_back(tokens[static_cast<size_t>(m.left)] + " " + tokens[static_cast<size_t>(m.right)]);
  doc["model"]["fuse_unk"] = true;
  doc["model"]["byte_fallback"] = true;
  doc["model"]["ignore_merges"] = false;
  doc["model"]["merges"] = merges;
}

}  // namespace

HfTokenizerFiles hf_tokenizer_files_from_gguf(const io::GgufFile& g) {
  const auto tok = load_gguf_tokenizer(g);
  const bool byte_level = g.get_string("tokenizer.ggml.model") == "gpt2";

  const auto tokens = g.get_string_array("tokenizer.ggml.tokens");
  // load_gguf_tokenizer checked that token_type, when present, has one entry per token.
  const std::vector<int64_t> types = g.has("tokenizer.ggml.token_type") ? g.get_int_array("tokenizer.ggml.token_type")
                                                                         : std::vector<int64_t>(tokens.size(), kGgufNormal);
  json added = json::array();
  json vocab = json::object();
  std::unordered_set<std::string_view> seen;
  for (size_t id = 0; id < tokens.size(); ++id) {
    // A vocabulary object holds one id per spelling; the first wins, as in the loader.
    if (seen.insert(tokens[id]).second) vocab[tokens[id]] = id;
    if (!gguf_token_is_added(types[id])) continue;
    added.push_back({{"id", id},
                     {"content", tokens[id]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", types[id] != kGgufUserDefined}});
  }
  json doc = {{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", added},
              {"normalizer", nullptr},
              {"model",
               {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", token_or_null(g, "tokenizer.ggml.unknown_token_id", tokens)},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"vocab", vocab}}}};
  if (byte_level)
    byte_level_parts(g, *tok, tokens, doc);
  else
    sentencepiece_parts(g, *tok, tokens, doc);

  json config = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                 {"add_bos_token", tok->add_bos()},
                 {"add_eos_token", g.has("tokenizer.ggml.add_eos_token") && g.get_bool("tokenizer.ggml.add_eos_token")},
                 {"bos_token", token_or_null(g, "tokenizer.ggml.bos_token_id", tokens)},
                 {"eos_token", token_or_null(g, "tokenizer.ggml.eos_token_id", tokens)},
                 {"unk_token", token_or_null(g, "tokenizer.ggml.unknown_token_id", tokens)},
                 {"pad_token", token_or_null(g, "tokenizer.ggml.padding_token_id", tokens)},
                 {"clean_up_tokenization_spaces", false}};
  if (g.has("general.architecture")) {
    const std::string ctx_key = g.get_string("general.architecture") + ".context_length";
    if (g.has(ctx_key)) config["model_max_length"] = g.get_int(ctx_key);
  }
  if (g.has("tokenizer.chat_template")) config["chat_template"] = g.get_string("tokenizer.chat_template");
  return HfTokenizerFiles{doc.dump(2), config.dump(2)};
}

}  // namespace qs::text
