#include "core/checkpoint/hf_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace qs::checkpoint {
namespace {

using json = nlohmann::ordered_json;

class Fields {
 public:
  Fields(const json& j, const std::string& source) : j_(j), source_(source) {}

  int64_t integer(const char* key) const {
    const json* v = find(key);
    if (!v) throw FormatError(source_, key, "missing");
    return as_int(*v, key);
  }
  int64_t integer_or(const char* key, int64_t fallback) const {
    const json* v = find(key);
    return v ? as_int(*v, key) : fallback;
  }
  double number_or(const char* key, double fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_number()) throw FormatError(source_, key, "expected a number, found " + v->dump());
    return v->get<double>();
  }
  bool boolean_or(const char* key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) throw FormatError(source_, key, "expected true/false, found " + v->dump());
    return v->get<bool>();
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_string()) throw FormatError(source_, key, "expected a string, found " + v->dump());
    return v->get<std::string>();
  }
  const json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }

 private:
  int64_t as_int(const json& v, const char* key) const {
    if (!v.is_number_integer()) throw FormatError(source_, key, "expected an integer, found " + v.dump());
    return v.get<int64_t>();
  }
  const json& j_;
  const std::string& source_;
};

// eos_token_id may be an integer or a list (Llama 3.1); the first one is used.
int64_t first_token_id(const json* v, const std::string& source, const char* key) {
  if (!v) return -1;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_array() && !v->empty() && (*v)[0].is_number_integer()) return (*v)[0].get<int64_t>();
  throw FormatError(source, key, "expected an integer or a list of integers, found " + v->dump());
}

}  // namespace

model::ModelConfig parse_hf_config(std::string_view text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw FormatError(source, "config", std::string("invalid JSON: ") + e.what(), e.byte);
  }
  if (!j.is_object()) throw FormatError(source, "config", "is not a JSON object");
  const Fields f(j, source);

  model::ModelConfig c;
  const std::string type = f.string_or("model_type", "");
  if (type == "llama" || type == "mistral" || type == "qwen2") {
    c.architecture = type;
  } else {
    throw ConfigError(source, "model_type",
                      "unsupported architecture '" + type + "' (supported: llama, mistral, qwen2)");
  }
  c.vocab_size = f.integer("vocab_size");
  c.hidden_size = f.integer("hidden_size");
  c.intermediate_size = f.integer("intermediate_size");
  c.num_layers = f.integer("num_hidden_layers");
  c.num_heads = f.integer("num_attention_heads");
  c.num_kv_heads = f.integer_or("num_key_value_heads", c.num_heads);
  c.head_dim = f.integer_or("head_dim", c.num_heads > 0 ? c.hidden_size / c.num_heads : 0);
  c.max_position_embeddings = f.integer_or("max_position_embeddings", 2048);
  c.rms_norm_eps = f.number_or("rms_norm_eps", 1e-6);
  c.rope_theta = f.number_or("rope_theta", 10000.0);
  c.tie_word_embeddings = f.boolean_or("tie_word_embeddings", false);
  // Qwen2 always has q/k/v biases and no others; Llama's attention_bias
  // switches on q/k/v/o's, mlp_bias gate/up/down's.
  c.attention_bias = type == "qwen2" ? true : f.boolean_or("attention_bias", false);
  c.output_bias = type != "qwen2" && c.attention_bias;
  c.mlp_bias = type != "qwen2" && f.boolean_or("mlp_bias", false);
  c.torch_dtype = f.string_or("torch_dtype", f.string_or("dtype", "float32"));
  c.bos_token_id = first_token_id(f.find("bos_token_id"), source, "bos_token_id");
  c.eos_token_id = first_token_id(f.find("eos_token_id"), source, "eos_token_id");

  // transformers 5 writes rope_theta and the scaling inside "rope_parameters";
  // older configs have a top-level rope_theta and "rope_scaling".
  const char* rope_key = f.find("rope_parameters") ? "rope_parameters" : "rope_scaling";
  if (const json* rs = f.find(rope_key)) {
    if (!rs->is_object()) throw FormatError(source, rope_key, "expected an object");
    const Fields r(*rs, source);
    const std::string field = std::string(rope_key) + ".";
    c.rope_theta = r.number_or("rope_theta", c.rope_theta);
    c.rope_scaling.type = r.string_or("rope_type", r.string_or("type", ""));
    c.rope_scaling.factor = r.number_or("factor", 0.0);
    c.rope_scaling.low_freq_factor = r.number_or("low_freq_factor", 1.0);
    c.rope_scaling.high_freq_factor = r.number_or("high_freq_factor", 4.0);
    c.rope_scaling.original_max_position_embeddings = r.integer_or("original_max_position_embeddings", 8192);
    if (c.rope_scaling.type == "default") c.rope_scaling = {};
    if (!c.rope_scaling.type.empty() && !(c.rope_scaling.factor > 0.0))
      throw ConfigError(source, field + "factor", "must be positive");
  }
  c.validate(source);
  return c;
}

model::ModelConfig read_hf_config(const std::filesystem::path& config_json) {
  std::ifstream in(config_json, std::ios::binary);
  if (!in) throw IoError(config_json.string(), "cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_hf_config(ss.str(), config_json.string());
}

std::string hf_dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat16:
      return "float16";
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kFloat32:
      return "float32";
    default:
      throw ArgumentError(std::string("dtype ") + c10::toString(t) +
                          ": checkpoints are written in float16, bfloat16 or float32");
  }
}

std::string hf_config_to_json(const model::ModelConfig& c, const std::string& torch_dtype) {
  const std::string arch = c.architecture == "qwen2"     ? "Qwen2ForCausalLM"
                           : c.architecture == "mistral" ? "MistralForCausalLM"
                                                         : "LlamaForCausalLM";
  nlohmann::ordered_json j = {{"architectures", {arch}},
                              {"model_type", c.architecture},
                              {"vocab_size", c.vocab_size},
                              {"hidden_size", c.hidden_size},
                              {"intermediate_size", c.intermediate_size},
                              {"num_hidden_layers", c.num_layers},
                              {"num_attention_heads", c.num_heads},
                              {"num_key_value_heads", c.num_kv_heads},
                              {"head_dim", c.head_dim},
                              {"max_position_embeddings", c.max_position_embeddings},
                              {"rms_norm_eps", c.rms_norm_eps},
                              {"rope_theta", c.rope_theta},
                              {"tie_word_embeddings", c.tie_word_embeddings},
                              {"hidden_act", "silu"},
                              {"torch_dtype", torch_dtype}};
  if (c.architecture != "qwen2") {
    j["attention_bias"] = c.attention_bias || c.output_bias;
    j["mlp_bias"] = c.mlp_bias;
  }
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_id >= 0) j["eos_token_id"] = c.eos_token_id;
  if (!c.rope_scaling.type.empty())
    j["rope_scaling"] = {{"rope_type", c.rope_scaling.type},
                         {"factor", c.rope_scaling.factor},
                         {"low_freq_factor", c.rope_scaling.low_freq_factor},
                         {"high_freq_factor", c.rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  return j.dump(2) + "\n";
}

}  // namespace qs::checkpoint
