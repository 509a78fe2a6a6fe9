#include "core/checkpoint/gguf_families.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/checkpoint/ggml_blocks.h"
#include "core/error.h"
#include "core/model/rope.h"

namespace qs::checkpoint {
namespace {

using model::ModelConfig;

// llama.cpp's architecture names and the HF model_type each one is.
const std::map<std::string, std::string>& model_types() {
  static const std::map<std::string, std::string> kModelTypes = {
      {"llama", "llama"}, {"mistral", "mistral"},    {"qwen2", "qwen2"},
      {"qwen3", "qwen3"}, {"gemma2", "gemma2"},      {"gemma3", "gemma3_text"},
      {"phi3", "phi3"},   {"qwen2moe", "qwen2_moe"}, {"qwen3moe", "qwen3_moe"}};
  return kModelTypes;
}

bool is_gemma(const std::string& arch) { return arch == "gemma2" || arch == "gemma3"; }

// llama.cpp rescales the top-k routing weights to sum 1 for Mixtral (its llama
// arch) and Qwen3-MoE, not for Qwen2-MoE, unless expert_weights_norm says.
bool assumed_expert_norm(const std::string& arch) { return arch != "qwen2moe"; }

// Mixture of Experts: every block routes, its experts stacked per projection.
void read_experts(const io::GgufFile& f, const std::string& arch, ModelConfig& c) {
  const std::string p = arch + ".", src = f.path().string();
  if (arch != "llama" && arch != "qwen2moe" && arch != "qwen3moe")
    throw ConfigError(src, p + "expert_count", "experts are not read for llama.cpp's " + arch + " architecture");
  const int64_t n = f.get_int(p + "expert_count");
  // The count sizes tables of names per block: it must be the file's own first.
  const auto* stacked = f.find_tensor("blk.0.ffn_gate_exps.weight");
  if (!stacked || stacked->ne.size() != 3 || stacked->ne[2] != n)
    throw FormatError(src, p + "expert_count",
                      std::to_string(n) + " experts declared, but tensor 'blk.0.ffn_gate_exps.weight' " +
                          (stacked ? "does not stack that many" : "is missing"));
  c.num_experts = n;
  c.experts_per_token = f.get_int(p + "expert_used_count");
  c.expert_intermediate_size = arch == "llama" ? c.intermediate_size : f.get_int(p + "expert_feed_forward_length");
  if (arch == "qwen2moe")
    c.shared_expert_intermediate_size = f.has(p + "expert_shared_feed_forward_length")
                                            ? f.get_int(p + "expert_shared_feed_forward_length")
                                            : c.intermediate_size;
  c.normalize_expert_weights =
      f.has(p + "expert_weights_norm") ? f.get_bool(p + "expert_weights_norm") : assumed_expert_norm(arch);
  if (arch == "llama") c.architecture = "mixtral";
}

// Phi-3's LongRoPE factors, which llama.cpp keeps as two tensors beside the blocks.
std::vector<double> rope_factors(const io::GgufFile& f, const std::string& name, const ModelConfig& c) {
  const auto* t = f.find_tensor(name);
  const int64_t half = c.rotary_dim() / 2;
  if (!t) throw FormatError(f.path().string(), "tensor '" + name + "'", "missing beside its LongRoPE pair");
  if (t->ne.size() != 1 || t->ne[0] != half)
    throw FormatError(f.path().string(), "tensor '" + name + "'",
                      "expected " + std::to_string(half) + " factors, one per rotated channel pair");
  const auto v = f.dequantize(*t).to(torch::kFloat64).contiguous();
  return {v.data_ptr<double>(), v.data_ptr<double>() + v.numel()};
}

constexpr const char* kLongFactors = "rope_factors_long.weight";
constexpr const char* kShortFactors = "rope_factors_short.weight";

void read_phi3(const io::GgufFile& f, ModelConfig& c) {
  const std::string p = "phi3.";
  c.sliding_window = f.has(p + "attention.sliding_window") ? f.get_int(p + "attention.sliding_window") : 0;
  if (c.sliding_window > 0) c.layer_types.assign(static_cast<size_t>(c.num_layers), model::AttentionSpan::Sliding);
  if (!f.find_tensor(kLongFactors) && !f.find_tensor(kShortFactors)) return;
  auto& rs = c.rope_scaling;
  rs.type = "longrope";
  rs.long_factor = rope_factors(f, kLongFactors, c);
  rs.short_factor = rope_factors(f, kShortFactors, c);
  rs.original_max_position_embeddings = f.get_int(p + "rope.scaling.original_context_length");
  if (rs.original_max_position_embeddings <= 0)
    throw ConfigError(f.path().string(), p + "rope.scaling.original_context_length", "must be positive");
  rs.factor = static_cast<double>(c.max_position_embeddings) / static_cast<double>(rs.original_max_position_embeddings);
  if (f.has(p + "rope.scaling.attn_factor")) rs.attention_factor = f.get_float(p + "rope.scaling.attn_factor");
}

// llama.cpp scales Gemma's queries by 1/sqrt(head_dim), except for the 27B
// models (46 and 62 layers), whose query_pre_attn_scalar is hidden / heads.
double assumed_query_scalar(const ModelConfig& c, const std::string& arch) {
  const bool large = c.num_layers == (arch == "gemma2" ? 46 : 62);
  return static_cast<double>(large && c.num_heads > 0 ? c.hidden_size / c.num_heads : c.head_dim);
}

// Gemma 2 alternates sliding and global layers; Gemma 3 has five sliding
// layers to one global one unless the file says otherwise.
constexpr int64_t kGemma3Period = 6;
constexpr double kGemma3SlidingTheta = 10000.0;
constexpr int64_t kGemmaWindow = 4096;

// The period whose pattern matches the config's layers, or 0 when none does.
int64_t sliding_period(const ModelConfig& c) {
  for (int64_t period = 1; period <= std::max<int64_t>(c.num_layers, 1); ++period) {
    const auto types = model::periodic_layer_types(c.num_layers, period);
    bool same = true;
    for (int64_t l = 0; l < c.num_layers && same; ++l)
      same = c.sliding(l) == (c.sliding_window > 0 && types[static_cast<size_t>(l)] == model::AttentionSpan::Sliding);
    if (same) return period;
  }
  return 0;
}

}  // namespace

std::string gguf_model_type(const std::string& source, const std::string& arch) {
  const auto type = model_types().find(arch);
  if (type != model_types().end()) return type->second;
  std::string supported;
  for (const auto& [name, _] : model_types()) supported += (supported.empty() ? "" : ", ") + name;
  throw ConfigError(source, "general.architecture",
                    "unsupported architecture '" + arch + "' (supported: " + supported + ")");
}

std::string gguf_export_arch(const ModelConfig& c) {
  if (c.rope_scaling.type == "llama3")
    throw ArgumentError(
        "GGUF export: llama3 rope scaling (llama.cpp stores it as a rope_freqs tensor) is not written yet");
  if (c.rope_scaling.type == "longrope" && c.architecture != "phi3")
    throw ArgumentError("GGUF export: LongRoPE is written for phi3 only, not for " + c.architecture);
  if (c.num_experts > 0) {
    // llama.cpp's MoE architectures route in every block.
    if (c.moe_layer_step != 1 || !c.dense_mlp_layers.empty())
      throw ArgumentError("GGUF export: this " + c.architecture +
                          " model has dense MLP blocks between its MoE ones, which llama.cpp's MoE architectures "
                          "cannot hold; export --format compressed-tensors or gptq instead");
    if (c.architecture == "qwen2_moe" && c.shared_expert_intermediate_size == 0)
      throw ArgumentError("GGUF export: llama.cpp's qwen2moe needs a shared expert, and this model has none");
  }
  static const std::map<std::string, std::string> kArch = {
      {"llama", "llama"},        {"mistral", "llama"},     {"mixtral", "llama"},      {"qwen2", "qwen2"},
      {"qwen3", "qwen3"},        {"gemma2", "gemma2"},     {"gemma3_text", "gemma3"}, {"phi3", "phi3"},
      {"qwen2_moe", "qwen2moe"}, {"qwen3_moe", "qwen3moe"}};
  const auto arch = kArch.find(c.architecture);
  if (arch == kArch.end())
    throw ArgumentError("GGUF export: " + c.architecture +
                        " models are not written yet (llama, mistral, mixtral, qwen2, qwen3, qwen2_moe, qwen3_moe, "
                        "gemma2, gemma3 text and phi3 are); export --format compressed-tensors, gptq or awq instead");
  // Gemma's and Phi-3's windows are written with the family's keys; the other
  // llama.cpp architectures have none.
  if (c.sliding_window > 0 && !is_gemma(arch->second) && arch->second != "phi3")
    throw ArgumentError("GGUF export: a sliding attention window on " + c.architecture +
                        " is not written (llama.cpp's " + arch->second + " arch has none)");
  return arch->second;
}

void read_gguf_family_options(const io::GgufFile& f, const std::string& arch, ModelConfig& c) {
  const std::string p = arch + ".";
  if (arch == "qwen3" || arch == "qwen3moe") c.qk_norm = true;
  if (f.has(p + "expert_count") && f.get_int(p + "expert_count") > 0) read_experts(f, arch, c);
  if (arch == "phi3") read_phi3(f, c);
  if (!is_gemma(arch)) return;
  c.norm_plus_one = c.sandwich_norms = c.scale_embedding = true;
  c.activation = model::Activation::GeluTanh;
  c.qk_norm = arch == "gemma3";
  if (f.has(p + "attn_logit_softcapping")) c.attn_logit_softcapping = f.get_float(p + "attn_logit_softcapping");
  if (f.has(p + "final_logit_softcapping")) c.final_logit_softcapping = f.get_float(p + "final_logit_softcapping");
  c.sliding_window = f.has(p + "attention.sliding_window") ? f.get_int(p + "attention.sliding_window") : kGemmaWindow;
  c.query_pre_attn_scalar = assumed_query_scalar(c, arch);
  // An explicit attention.scale (the factor on the scores) wins.
  if (f.has(p + "attention.scale")) {
    const double scale = f.get_float(p + "attention.scale");
    if (!(scale > 0.0)) throw ConfigError(f.path().string(), p + "attention.scale", "must be positive");
    c.query_pre_attn_scalar = 1.0 / (scale * scale);
  }
  const int64_t period = arch == "gemma2" ? 2
                         : f.has(p + "attention.sliding_window_pattern")
                             ? f.get_int(p + "attention.sliding_window_pattern")
                             : kGemma3Period;
  if (period <= 0) throw ConfigError(f.path().string(), p + "attention.sliding_window_pattern", "must be positive");
  c.layer_types = model::periodic_layer_types(c.num_layers, period);
  if (arch == "gemma3")
    c.sliding_rope_theta =
        f.has(p + "rope.freq_base_swa") ? f.get_float(p + "rope.freq_base_swa") : kGemma3SlidingTheta;
}

std::vector<std::string> write_gguf_family_options(const ModelConfig& c, const std::string& arch, io::GgufWriter& w) {
  std::vector<std::string> notes;
  const std::string p = arch + ".";
  if (c.num_experts > 0) {
    w.add_uint32(p + "expert_count", static_cast<uint32_t>(c.num_experts));
    w.add_uint32(p + "expert_used_count", static_cast<uint32_t>(c.experts_per_token));
    if (arch != "llama")
      w.add_uint32(p + "expert_feed_forward_length", static_cast<uint32_t>(c.expert_intermediate_size));
    if (c.shared_expert_intermediate_size > 0)
      w.add_uint32(p + "expert_shared_feed_forward_length", static_cast<uint32_t>(c.shared_expert_intermediate_size));
    if (c.normalize_expert_weights != assumed_expert_norm(arch)) {
      w.add_bool(p + "expert_weights_norm", c.normalize_expert_weights);
      notes.push_back(std::string("the routing weights are ") + (c.normalize_expert_weights ? "" : "not ") +
                      "rescaled to sum 1, written as " + p + "expert_weights_norm; llama.cpp may assume otherwise");
    }
  }
  if (arch == "phi3") {
    w.add_uint32(p + "attention.sliding_window", static_cast<uint32_t>(c.sliding_window));
    if (c.sliding_window > 0)
      notes.push_back("every layer attends through a window of " + std::to_string(c.sliding_window) +
                      " tokens, written as " + p +
                      "attention.sliding_window; llama.cpp builds to date run Phi-3 without it");
    const auto& rs = c.rope_scaling;
    if (rs.type == "longrope") {
      w.add_uint32(p + "rope.scaling.original_context_length",
                   static_cast<uint32_t>(rs.original_max_position_embeddings));
      w.add_float32(p + "rope.scaling.attn_factor", static_cast<float>(model::longrope_attention_factor(rs)));
      const auto n = static_cast<int64_t>(rs.long_factor.size());
      w.add_tensor(kLongFactors, io::GgmlType::F32, {n}, encode_f32(torch::tensor(rs.long_factor)));
      w.add_tensor(kShortFactors, io::GgmlType::F32, {n}, encode_f32(torch::tensor(rs.short_factor)));
    }
  }
  if (!is_gemma(arch)) return notes;
  if (c.attn_logit_softcapping > 0)
    w.add_float32(p + "attn_logit_softcapping", static_cast<float>(c.attn_logit_softcapping));
  if (c.final_logit_softcapping > 0)
    w.add_float32(p + "final_logit_softcapping", static_cast<float>(c.final_logit_softcapping));
  w.add_uint32(p + "attention.sliding_window", static_cast<uint32_t>(c.sliding_window));
  const double scalar = c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar : static_cast<double>(c.head_dim);
  if (scalar != assumed_query_scalar(c, arch)) {
    w.add_float32(p + "attention.scale", static_cast<float>(1.0 / std::sqrt(scalar)));
    notes.push_back("query_pre_attn_scalar " + std::to_string(scalar) + " is written as " + p +
                    "attention.scale; llama.cpp may assume " + std::to_string(assumed_query_scalar(c, arch)));
  }
  const int64_t period = sliding_period(c);
  const int64_t assumed = arch == "gemma2" ? 2 : kGemma3Period;
  if (period != assumed) {
    if (arch == "gemma2" || period == 0)
      throw ArgumentError("GGUF export: this " + c.architecture +
                          " model's sliding and global layers do not follow a pattern llama.cpp can hold");
    w.add_uint32(p + "attention.sliding_window_pattern", static_cast<uint32_t>(period));
    notes.push_back("every " + std::to_string(period) + "th layer is global, written as " + p +
                    "attention.sliding_window_pattern; llama.cpp may assume every " + std::to_string(assumed) + "th");
  }
  if (arch == "gemma3" && c.sliding_rope_theta > 0 && c.sliding_rope_theta != kGemma3SlidingTheta) {
    w.add_float32(p + "rope.freq_base_swa", static_cast<float>(c.sliding_rope_theta));
    notes.push_back("the sliding layers' RoPE base " + std::to_string(c.sliding_rope_theta) + " is written as " + p +
                    "rope.freq_base_swa; llama.cpp may assume 10000");
  }
  return notes;
}

}  // namespace qs::checkpoint
