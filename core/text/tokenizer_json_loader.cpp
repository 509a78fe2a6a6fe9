// Reads HF tokenizer.json (+ tokenizer_config.json) into a TokenizerJson, and
// that into ByteLevelBpe or SentencePieceBpe. Only the pipeline pieces LLM tokenizers use are accepted;
// anything else is a ConfigError rather than silently different ids.

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/io/json_brief.h"
#include "core/io/json_error.h"
#include "core/io/json_int.h"
#include "core/io/small_files.h"
#include "core/text/byte_level_bpe.h"
#include "core/text/sentencepiece_bpe.h"
#include "core/text/tokenizer.h"
#include "core/text/tokenizer_json.h"

namespace qs::text {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// Unused ids a vocabulary may leave between its tokens (reserved ranges).
constexpr int64_t kIdGapAllowed = 1 << 16;

// obj[key] when obj is an object holding a non-null key: read by reference,
// since copying a hostile, deeply nested value recurses once per level.
const json* member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string string_member(const json& obj, const char* key) {
  const json* v = member(obj, key);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

json parse_json_file(const fs::path& path) {
  io::check_readable_whole(path, uint64_t{1} << 30);  // a large vocabulary's tokenizer.json is tens of MB
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string(), std::string("cannot open: ") + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw IoError(path.string(), "read failed");
  // Track the key path so a syntax or UTF-8 error can name the field it is in.
  std::vector<std::string> keys;
  auto track = [&](int depth, json::parse_event_t event, json& parsed) {
    const size_t d = static_cast<size_t>(std::max(depth, 0));
    // A key is pushed at its object's depth and popped when its value ends, so
    // an error inside an object names the object, not its last finished member.
    const size_t parent = d > 0 ? d - 1 : 0;
    if (event == json::parse_event_t::key) {
      keys.resize(std::min(keys.size(), parent));
      keys.push_back(parsed.get<std::string>());
    } else if (event == json::parse_event_t::value || event == json::parse_event_t::object_end ||
               event == json::parse_event_t::array_end) {
      keys.resize(std::min(keys.size(), parent));
    }
    return true;
  };
  try {
    return json::parse(buf.str(), track);
  } catch (const nlohmann::json::exception& e) {
    std::string field;
    for (const auto& k : keys) field += (field.empty() ? "" : ".") + k;
    std::string what = e.what();
    if (auto p = what.find("] "); p != std::string::npos) what.erase(0, p + 2);
    const auto at = io::json_error_offset(e);
    throw FormatError(path.string(), field.empty() ? "(document)" : field, "invalid JSON: " + what,
                      at ? std::optional<uint64_t>(*at > 0 ? *at - 1 : 0) : std::nullopt);
  }
}

// Field access that names the file and field in every failure.
struct Doc {
  std::string path;

  [[noreturn]] void fail(const std::string& field, const std::string& detail) const {
    throw FormatError(path, field, detail);
  }
  [[noreturn]] void unsupported(const std::string& field, const std::string& detail) const {
    throw ConfigError(path, field, detail);
  }
  const json& at(const json& obj, const std::string& key, const std::string& field) const {
    if (!obj.is_object() || !obj.contains(key)) fail(field, "missing");
    return obj.at(key);
  }
  std::string str(const json& v, const std::string& field) const {
    if (!v.is_string()) fail(field, "expected a string, found " + std::string(v.type_name()));
    return v.get<std::string>();
  }
  bool flag(const json& obj, const std::string& key, bool fallback, const std::string& field) const {
    if (!obj.contains(key) || obj.at(key).is_null()) return fallback;
    if (!obj.at(key).is_boolean()) fail(field + "." + key, "expected true or false");
    return obj.at(key).get<bool>();
  }
  int32_t id(const json& v, const std::string& field) const {
    if (const auto n = io::json_int64(v); !n || *n < 0 || *n > INT32_MAX)
      fail(field, "expected a token id (a non-negative integer), found " + io::json_brief(v));
    return static_cast<int32_t>(v.get<int64_t>());
  }
};

// What the normalizer and pre-tokenizer amount to.
struct Pipeline {
  bool byte_level = false;
  bool byte_level_prefix = false;
  std::vector<PreTokenizer::Step> steps;
  bool prepend = false;        // normalizer Prepend("▁")
  bool replace_space = false;  // normalizer Replace(" ", "▁")
  bool metaspace = false;
  SentencePieceOptions::Prefix metaspace_prefix = SentencePieceOptions::Prefix::kUnlessSpace;
  bool metaspace_split = true;
};

void read_normalizer(const Doc& doc, const json& n, const std::string& field, Pipeline& p) {
  if (n.is_null()) return;
  const std::string type = doc.str(doc.at(n, "type", field + ".type"), field + ".type");
  if (type == "Sequence") {
    const json& list = doc.at(n, "normalizers", field + ".normalizers");
    for (size_t i = 0; i < list.size(); ++i)
      read_normalizer(doc, list[i], field + ".normalizers[" + std::to_string(i) + "]", p);
  } else if (type == "Prepend" && doc.str(doc.at(n, "prepend", field), field + ".prepend") == kSentencePieceSpace) {
    p.prepend = true;
  } else if (type == "Replace" && n.contains("pattern") && n["pattern"].is_object() &&
             n["pattern"].contains("String") && n["pattern"]["String"] == " " && n.contains("content") &&
             n["content"] == kSentencePieceSpace) {
    p.replace_space = true;
  } else if (type == "NFC") {
    // Accepted: text that is already NFC (nearly all text) encodes the same.
  } else {
    doc.unsupported(field, "normalizer " + io::json_brief(n) + " is not supported");
  }
}

void read_pre_tokenizer(const Doc& doc, const json& t, const std::string& field, Pipeline& p) {
  using Prefix = SentencePieceOptions::Prefix;
  if (t.is_null()) return;
  const std::string type = doc.str(doc.at(t, "type", field + ".type"), field + ".type");
  if (type == "Sequence") {
    const json& list = doc.at(t, "pretokenizers", field + ".pretokenizers");
    for (size_t i = 0; i < list.size(); ++i)
      read_pre_tokenizer(doc, list[i], field + ".pretokenizers[" + std::to_string(i) + "]", p);
  } else if (type == "ByteLevel") {
    p.byte_level = true;
    p.byte_level_prefix = doc.flag(t, "add_prefix_space", false, field);
    // The prefix is added to the text ByteLevel receives; we only do that for
    // whole segments, i.e. when nothing split them before.
    if (p.byte_level_prefix && !p.steps.empty())
      doc.unsupported(field + ".add_prefix_space", "supported only on the first pre-tokenizer");
    if (doc.flag(t, "use_regex", true, field)) p.steps.push_back({PreTokenizer::Step::Kind::kRegex});
  } else if (type == "Split") {
    const json& pattern = doc.at(t, "pattern", field + ".pattern");
    SplitPattern sp{};
    if (!pattern.contains("Regex") || !pattern["Regex"].is_string() ||
        !split_pattern_from_regex(pattern["Regex"].get<std::string>(), sp))
      doc.unsupported(field + ".pattern",
                      "split pattern " + io::json_brief(pattern) + " is not one we implement (GPT-2, Llama-3, Qwen2)");
    if (string_member(t, "behavior") != "Isolated" || doc.flag(t, "invert", false, field))
      doc.unsupported(field + ".behavior", "only Isolated, non-inverted splits are supported");
    p.steps.push_back({PreTokenizer::Step::Kind::kRegex, sp});
  } else if (type == "Digits") {
    p.steps.push_back(
        {PreTokenizer::Step::Kind::kDigits, SplitPattern::kGpt2, doc.flag(t, "individual_digits", false, field)});
  } else if (type == "Metaspace") {
    if (const json* r = member(t, "replacement"); r && *r != kSentencePieceSpace)
      doc.unsupported(field + ".replacement", "only \"▁\" is supported");
    p.metaspace = true;
    p.metaspace_split = doc.flag(t, "split", true, field);
    if (t.contains("prepend_scheme")) {
      const std::string scheme = doc.str(t["prepend_scheme"], field + ".prepend_scheme");
      if (scheme == "first")
        p.metaspace_prefix = Prefix::kFirstSegment;
      else if (scheme == "never")
        p.metaspace_prefix = Prefix::kNone;
      else if (scheme != "always")
        doc.fail(field + ".prepend_scheme", "unknown scheme '" + scheme + "'");
    } else if (!doc.flag(t, "add_prefix_space", true, field)) {
      p.metaspace_prefix = Prefix::kNone;
    }
  } else {
    doc.unsupported(field, "pre-tokenizer type '" + type + "' is not supported");
  }
}

// The id of a token named in the post-processor or tokenizer_config.json.
int32_t token_id(const BpeModel& model, const std::vector<AddedToken>& added, const std::string& text) {
  for (const auto& a : added)
    if (a.content == text) return a.id;
  return model.find(text);
}

// The first SpecialToken of a TemplateProcessing "single" template, if any:
// that is the BOS the model expects.
// Where the template's BOS comes from; the post-processor is read for nothing
// else, so a shape it does not expect means no BOS, not an error.
std::string template_bos(const json& proc) {
  const std::string type = string_member(proc, "type");
  if (type == "Sequence") {
    if (const json* list = member(proc, "processors"); list && list->is_array())
      for (const auto& p : *list)
        if (auto bos = template_bos(p); !bos.empty()) return bos;
    return {};
  }
  if (type != "TemplateProcessing") return {};
  const json* single = member(proc, "single");
  if (!single || !single->is_array() || single->empty()) return {};
  const json* special = member((*single)[0], "SpecialToken");
  return special ? string_member(*special, "id") : std::string();
}

SpecialTokens read_special_tokens(const fs::path& path, const json& doc, const BpeModel& model,
                                  const std::vector<AddedToken>& added) {
  SpecialTokens special;
  const json* post = member(doc, "post_processor");
  if (std::string bos = post ? template_bos(*post) : std::string(); !bos.empty()) {
    special.bos = token_id(model, added, bos);
    if (special.bos < 0) throw FormatError(path.string(), "post_processor", "unknown token '" + bos + "'");
    special.add_bos = true;
  }
  const fs::path config_path = path.parent_path() / "tokenizer_config.json";
  if (!fs::exists(config_path)) return special;
  const json config = parse_json_file(config_path);
  const Doc cdoc{config_path.string()};
  if (!config.is_object()) cdoc.fail("(document)", "expected a JSON object");
  special.add_bos = cdoc.flag(config, "add_bos_token", special.add_bos, "add_bos_token");
  for (auto [key, slot] : {std::pair{"bos_token", &special.bos}, std::pair{"eos_token", &special.eos}}) {
    if (!config.contains(key) || config[key].is_null()) continue;
    const json& v = config[key];
    const std::string text = cdoc.str(v.is_object() ? cdoc.at(v, "content", key) : v, key);
    *slot = token_id(model, added, text);
    if (*slot < 0) cdoc.fail(key, "'" + text + "' is not a token of " + path.filename().string());
  }
  return special;
}

TokenizerJson read(const fs::path& path) {
  const json doc = parse_json_file(path);
  const Doc d{path.string()};
  if (!doc.is_object()) d.fail("(document)", "expected a JSON object");
  const json& m = d.at(doc, "model", "model");
  const json* model_type = member(m, "type");
  if (const std::string type = !model_type              ? "BPE"
                               : model_type->is_string() ? model_type->get<std::string>()
                                                         : io::json_brief(*model_type);
      type != "BPE")
    d.unsupported("model.type", "tokenizer model '" + type + "' is not supported (only BPE)");
  // tokenizers writes "" for "none" in files converted by transformers (e.g. from a GGUF).
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const json* v = member(m, affix); v && *v != "")
      d.unsupported(std::string("model.") + affix, std::string(affix) + " is not supported");
  if (const json* drop = member(m, "dropout"); drop && (!drop->is_number() || drop->get<double>() != 0.0))
    d.unsupported("model.dropout", "BPE dropout is not supported");

  // Vocabulary, with room for added tokens that live beyond it.
  const json& vocab = d.at(m, "vocab", "model.vocab");
  if (!vocab.is_object()) d.fail("model.vocab", "expected an object of token → id");
  std::vector<AddedToken> added;
  static const json kNone = json::array();
  const json* added_ptr = member(doc, "added_tokens");
  const json& added_json = added_ptr ? *added_ptr : kNone;
  if (!added_json.is_array()) d.fail("added_tokens", "expected an array");
  int64_t size = 0;
  for (const auto& [text, id] : vocab.items())
    size = std::max<int64_t>(size, int64_t{d.id(id, "model.vocab." + text)} + 1);
  for (size_t i = 0; i < added_json.size(); ++i) {
    const std::string f = "added_tokens[" + std::to_string(i) + "]";
    AddedToken a;
    a.id = d.id(d.at(added_json[i], "id", f + ".id"), f + ".id");
    a.content = d.str(d.at(added_json[i], "content", f + ".content"), f + ".content");
    if (a.content.empty()) d.fail(f + ".content", "empty token");
    a.lstrip = d.flag(added_json[i], "lstrip", false, f);
    a.rstrip = d.flag(added_json[i], "rstrip", false, f);
    a.special = d.flag(added_json[i], "special", false, f);
    size = std::max<int64_t>(size, int64_t{a.id} + 1);
    added.push_back(std::move(a));
  }
  // The token table is sized by the largest id: ids far past the entries
  // present would allocate for nothing (an id of 2^31 is 64 GB of empty slots).
  const int64_t entries = static_cast<int64_t>(vocab.size() + added.size());
  if (size > entries + kIdGapAllowed)
    d.fail("model.vocab", "the largest token id is " + std::to_string(size - 1) + ", far past the " +
                              std::to_string(entries) + " tokens the file defines");
  BpeModel model;
  model.tokens.resize(static_cast<size_t>(size));
  for (const auto& [text, id] : vocab.items()) {
    std::string& slot = model.tokens[id.get<size_t>()];
    if (!slot.empty()) d.fail("model.vocab." + text, "id " + io::json_brief(id) + " is also '" + slot + "'");
    slot = text;
    model.add_token(text, id.get<int32_t>());
  }
  for (const auto& a : added)
    if (model.tokens[a.id].empty()) model.tokens[a.id] = a.content;

  const json& merges = d.at(m, "merges", "model.merges");
  if (!merges.is_array()) d.fail("model.merges", "expected an array");
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string f = "model.merges[" + std::to_string(i) + "]";
    std::string left, right;
    if (merges[i].is_string()) {  // "a b"
      const std::string s = merges[i].get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        d.fail(f, "expected two tokens separated by one space, found '" + s + "'");
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (merges[i].is_array() && merges[i].size() == 2) {  // ["a", "b"]
      left = d.str(merges[i][0], f);
      right = d.str(merges[i][1], f);
    } else {
      d.fail(f, "expected \"a b\" or [\"a\", \"b\"]");
    }
    const int32_t l = model.find(left), r = model.find(right), lr = model.find(left + right);
    if (l < 0 || r < 0 || lr < 0)
      d.fail(f, "'" + (l < 0 ? left : r < 0 ? right : left + right) + "' is not in model.vocab");
    model.add_merge(l, r, lr, static_cast<int32_t>(i));
  }
  if (const json* unk = member(m, "unk_token")) {
    model.unk_id = model.find(d.str(*unk, "model.unk_token"));
    if (model.unk_id < 0) d.fail("model.unk_token", "'" + unk->get<std::string>() + "' is not in model.vocab");
  }
  model.ignore_merges = d.flag(m, "ignore_merges", false, "model");

  Pipeline p;
  static const json kAbsent;
  const json* normalizer = member(doc, "normalizer");
  const json* pre_tokenizer = member(doc, "pre_tokenizer");
  read_normalizer(d, normalizer ? *normalizer : kAbsent, "normalizer", p);
  read_pre_tokenizer(d, pre_tokenizer ? *pre_tokenizer : kAbsent, "pre_tokenizer", p);
  const SpecialTokens special = read_special_tokens(path, doc, model, added);

  TokenizerJson out;
  out.byte_level = p.byte_level;
  out.byte_level_prefix = p.byte_level_prefix;
  if (p.byte_level) {
    if (p.metaspace || p.prepend || p.replace_space)
      d.unsupported("pre_tokenizer", "mixes ByteLevel with SentencePiece-style spaces");
  } else {
    if (!p.metaspace && !p.replace_space)
      d.unsupported("pre_tokenizer", "neither ByteLevel nor SentencePiece-style (Metaspace or a \"▁\" normalizer)");
    if (!p.steps.empty()) d.unsupported("pre_tokenizer", "splits are supported only with ByteLevel");
    using Prefix = SentencePieceOptions::Prefix;
    auto& opt = out.sentencepiece;
    opt.prefix = p.metaspace ? p.metaspace_prefix : p.prepend ? Prefix::kEverySegment : Prefix::kNone;
    opt.split = p.metaspace && p.metaspace_split;
    opt.byte_fallback = d.flag(m, "byte_fallback", false, "model");
    opt.fuse_unk = d.flag(m, "fuse_unk", false, "model");
  }
  out.model = std::move(model);
  out.added = std::move(added);
  out.special = special;
  out.steps = std::move(p.steps);
  return out;
}

}  // namespace

TokenizerJson read_tokenizer_json(const fs::path& path) {
  try {
    return read(path);
  } catch (const json::exception& e) {
    // A value of a JSON type the checks above do not name (e.g. a number where
    // an object belongs inside a normalizer).
    throw FormatError(path.string(), "(structure)", e.what());
  }
}

std::unique_ptr<Tokenizer> load_tokenizer_json(const fs::path& path) {
  TokenizerJson t = read_tokenizer_json(path);
  if (t.byte_level)
    return std::make_unique<ByteLevelBpe>(std::move(t.model), AddedTokens(std::move(t.added)),
                                          PreTokenizer(std::move(t.steps)), t.byte_level_prefix, t.special);
  return std::make_unique<SentencePieceBpe>(std::move(t.model), AddedTokens(std::move(t.added)), t.sentencepiece,
                                            t.special);
}

}  // namespace qs::text
