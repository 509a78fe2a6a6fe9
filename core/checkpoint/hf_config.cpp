#include "core/checkpoint/hf_config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io/json_error.h"
#include "core/io/json_int.h"
#include "core/io/small_files.h"
#include "core/model/architecture.h"

namespace qs::checkpoint {
namespace {

using json = nlohmann::ordered_json;
using Fields = model::ConfigFields;

// The largest layer count believed before a checkpoint shows its tensors: far
// above any released model, far below what would exhaust memory in tables.
constexpr int64_t kMaxLayers = 1 << 16;

// eos_token_id may be an integer or a list (Llama 3.1); the first one is used.
int64_t first_token_id(const json* v, const std::string& source, const char* key) {
  if (!v) return -1;
  if (const auto n = io::json_int64(*v)) return *n;
  if (v->is_array() && !v->empty())
    if (const auto n = io::json_int64((*v)[0])) return *n;
  throw FormatError(source, key, "expected an integer or a list of integers, found " + Fields::brief(*v));
}

model::Activation activation(const Fields& f) {
  const char* key = f.find("hidden_activation") ? "hidden_activation" : "hidden_act";
  const std::string name = f.string_or(key, "silu");
  if (name == "silu" || name == "swish") return model::Activation::Silu;
  if (name == "gelu_pytorch_tanh" || name == "gelu_new") return model::Activation::GeluTanh;
  throw ConfigError(f.source(), key, "unsupported activation '" + name + "' (supported: silu, gelu_pytorch_tanh)");
}

std::vector<model::AttentionSpan> layer_types(const Fields& f, int64_t num_layers) {
  const json* v = f.find("layer_types");
  if (!v) return {};
  if (!v->is_array()) throw FormatError(f.source(), "layer_types", "expected a list, found " + Fields::brief(*v));
  if (static_cast<int64_t>(v->size()) != num_layers)
    throw ConfigError(f.source(), "layer_types",
                      std::to_string(v->size()) + " entries for " + std::to_string(num_layers) + " layers");
  std::vector<model::AttentionSpan> out;
  for (const auto& e : *v) {
    const std::string name = e.is_string() ? e.get<std::string>() : Fields::brief(e);
    if (name == "full_attention") out.push_back(model::AttentionSpan::Full);
    else if (name == "sliding_attention") out.push_back(model::AttentionSpan::Sliding);
    else throw ConfigError(f.source(), "layer_types", "unsupported layer type '" + name + "' (supported: full_attention, sliding_attention)");
  }
  return out;
}

// A list of numbers under `key`; empty when absent.
std::vector<double> numbers(const Fields& f, const char* key) {
  const json* v = f.find(key);
  if (!v) return {};
  if (!v->is_array()) throw FormatError(f.source(), f.field(key), "expected a list of numbers, found " + Fields::brief(*v));
  std::vector<double> out;
  for (const auto& e : *v) {
    if (!e.is_number()) throw FormatError(f.source(), f.field(key), "expected a list of numbers, found " + Fields::brief(e));
    out.push_back(e.get<double>());
  }
  return out;
}

// "rope_scaling" or transformers 5's "rope_parameters"; the latter may hold
// one entry per layer type (Gemma 3), the full layers' carrying the scaling.
void read_rope(const Fields& f, model::ModelConfig& c) {
  const char* key = f.find("rope_parameters") ? "rope_parameters" : "rope_scaling";
  const json* rs = f.object(key);
  if (!rs) return;
  std::string prefix = std::string(key) + ".";
  if (const json* sliding = Fields(*rs, f.source(), prefix).object("sliding_attention"))
    c.sliding_rope_theta = Fields(*sliding, f.source(), prefix + "sliding_attention.").number_or("rope_theta", 0.0);
  if (const json* full = Fields(*rs, f.source(), prefix).object("full_attention")) {
    rs = full;
    prefix += "full_attention.";
  }
  const Fields r(*rs, f.source(), prefix);
  c.rope_theta = r.number_or("rope_theta", c.rope_theta);
  c.partial_rotary_factor = r.number_or("partial_rotary_factor", c.partial_rotary_factor);
  c.rope_scaling.type = r.string_or("rope_type", r.string_or("type", ""));
  c.rope_scaling.factor = r.number_or("factor", 0.0);
  c.rope_scaling.low_freq_factor = r.number_or("low_freq_factor", 1.0);
  c.rope_scaling.high_freq_factor = r.number_or("high_freq_factor", 4.0);
  c.rope_scaling.original_max_position_embeddings =
      r.integer_or("original_max_position_embeddings", f.integer_or("original_max_position_embeddings", 8192));
  if (c.rope_scaling.type == "default") c.rope_scaling = {};
  if (c.rope_scaling.type == "su") c.rope_scaling.type = "longrope";  // Phi-3's first name for it
  if (c.rope_scaling.type == "longrope") {
    c.rope_scaling.short_factor = numbers(r, "short_factor");
    c.rope_scaling.long_factor = numbers(r, "long_factor");
    c.rope_scaling.attention_factor = r.number_or("attention_factor", 0.0);
    // Absent, the factor is the context's growth over the original, as transformers derives it.
    if (c.rope_scaling.factor == 0.0 && c.rope_scaling.original_max_position_embeddings > 0)
      c.rope_scaling.factor = static_cast<double>(c.max_position_embeddings) /
                              static_cast<double>(c.rope_scaling.original_max_position_embeddings);
  }
  if (!c.rope_scaling.type.empty() && !(c.rope_scaling.factor > 0.0))
    throw ConfigError(f.source(), prefix + "factor", "must be positive");
}

}  // namespace

model::ModelConfig parse_hf_config(std::string_view text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(source, "config", std::string("invalid JSON: ") + e.what(), io::json_error_offset(e));
  }
  if (!j.is_object()) throw FormatError(source, "config", "is not a JSON object");
  const Fields top(j, source);
  const std::string outer = top.string_or("model_type", "");
  // A multimodal model (Gemma 3's Gemma3ForConditionalGeneration) carries its
  // language model's config as text_config: that part is what opens.
  const json* text_config = model::find_architecture(outer) ? nullptr : top.object("text_config");
  const Fields f = text_config ? Fields(*text_config, source, "text_config.") : top;

  model::ModelConfig c;
  const std::string type = f.string_or("model_type", "");
  const model::Architecture* arch = model::find_architecture(type);
  if (!arch)
    throw ConfigError(source, f.field("model_type"),
                      "unsupported architecture '" + type + "'" +
                          (text_config ? " in the text_config of '" + outer + "'" : std::string()) +
                          " (supported: " + model::supported_architectures() + ")");
  c.architecture = type;
  if (text_config) c.multimodal_wrapper = outer;
  c.vocab_size = f.integer("vocab_size");
  c.hidden_size = f.integer("hidden_size");
  c.intermediate_size = f.integer("intermediate_size");
  c.num_layers = f.integer("num_hidden_layers");
  // Checked before any family reads it: a negative count would become a huge
  // size_t in the per-layer tables they build.
  if (c.num_layers <= 0 || c.num_layers > kMaxLayers)
    throw ConfigError(source, f.field("num_hidden_layers"),
                      std::to_string(c.num_layers) + " layers (expected 1 to " + std::to_string(kMaxLayers) + ")");
  c.num_heads = f.integer("num_attention_heads");
  c.num_kv_heads = f.integer_or("num_key_value_heads", c.num_heads);
  c.head_dim = f.integer_or("head_dim", c.num_heads > 0 ? c.hidden_size / c.num_heads : 0);
  c.max_position_embeddings = f.integer_or("max_position_embeddings", 2048);
  c.rms_norm_eps = f.number_or("rms_norm_eps", 1e-6);
  c.rope_theta = f.number_or("rope_theta", 10000.0);
  c.partial_rotary_factor = f.number_or("partial_rotary_factor", 1.0);
  c.tie_word_embeddings = f.boolean_or("tie_word_embeddings", false);
  // Llama's attention_bias puts biases on q, k, v and o, mlp_bias on
  // gate, up and down; families differing say so.
  c.attention_bias = c.output_bias = f.boolean_or("attention_bias", false);
  c.mlp_bias = f.boolean_or("mlp_bias", false);
  c.activation = activation(f);
  c.torch_dtype = f.string_or("torch_dtype", f.string_or("dtype", "float32"));
  c.bos_token_id = first_token_id(f.find("bos_token_id"), source, "bos_token_id");
  c.eos_token_id = first_token_id(f.find("eos_token_id"), source, "eos_token_id");
  c.pad_token_id = first_token_id(f.find("pad_token_id"), source, "pad_token_id");
  read_rope(f, c);
  c.layer_types = layer_types(f, c.num_layers);
  arch->read(f, c);
  c.validate(source);
  return c;
}

model::ModelConfig read_hf_config(const std::filesystem::path& config_json) {
  return parse_hf_config(io::read_small_file(config_json), config_json.string());
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
  const model::Architecture* arch = model::find_architecture(c.architecture);
  if (!arch) throw ArgumentError("no config.json can be written for architecture '" + c.architecture + "'");
  nlohmann::ordered_json j = {{"architectures", {std::string(arch->hf_class)}},
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
                              {"hidden_act", c.activation == model::Activation::Silu ? "silu" : "gelu_pytorch_tanh"},
                              {"torch_dtype", torch_dtype}};
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_id >= 0) j["eos_token_id"] = c.eos_token_id;
  if (c.pad_token_id >= 0) j["pad_token_id"] = c.pad_token_id;
  const auto& rs = c.rope_scaling;
  if (rs.type == "longrope") {
    j["rope_scaling"] = {{"rope_type", rs.type},
                         {"factor", rs.factor},
                         {"short_factor", rs.short_factor},
                         {"long_factor", rs.long_factor},
                         {"original_max_position_embeddings", rs.original_max_position_embeddings}};
    if (rs.attention_factor > 0.0) j["rope_scaling"]["attention_factor"] = rs.attention_factor;
    j["original_max_position_embeddings"] = rs.original_max_position_embeddings;
  } else if (!rs.type.empty()) {
    j["rope_scaling"] = {{"rope_type", rs.type},
                         {"factor", rs.factor},
                         {"low_freq_factor", rs.low_freq_factor},
                         {"high_freq_factor", rs.high_freq_factor},
                         {"original_max_position_embeddings", rs.original_max_position_embeddings}};
  }
  if (c.partial_rotary_factor != 1.0) j["partial_rotary_factor"] = c.partial_rotary_factor;
  if (c.sliding_window > 0) j["sliding_window"] = c.sliding_window;
  if (!c.layer_types.empty()) {
    auto& types = j["layer_types"] = nlohmann::ordered_json::array();
    for (auto t : c.layer_types) types.push_back(t == model::AttentionSpan::Sliding ? "sliding_attention" : "full_attention");
  }
  arch->write(c, j);
  return j.dump(2) + "\n";
}

}  // namespace qs::checkpoint
