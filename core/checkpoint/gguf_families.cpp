#include "core/checkpoint/gguf_families.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"

namespace qs::checkpoint {
namespace {

using model::ModelConfig;

// llama.cpp's architecture names and the HF model_type each one is.
const std::map<std::string, std::string>& model_types() {
  static const std::map<std::string, std::string> kModelTypes = {{"llama", "llama"},   {"mistral", "mistral"},
                                                                 {"qwen2", "qwen2"},   {"qwen3", "qwen3"},
                                                                 {"gemma2", "gemma2"}, {"gemma3", "gemma3_text"}};
  return kModelTypes;
}

bool is_gemma(const std::string& arch) { return arch == "gemma2" || arch == "gemma3"; }

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

void set_periodic(ModelConfig& c, int64_t period) {
  c.layer_types.assign(static_cast<size_t>(std::max<int64_t>(c.num_layers, 0)), model::AttentionSpan::Full);
  for (int64_t i = 0; i < c.num_layers; ++i)
    if ((i + 1) % period != 0) c.layer_types[static_cast<size_t>(i)] = model::AttentionSpan::Sliding;
}

// The period whose pattern matches the config's layers, or 0 when none does.
int64_t sliding_period(const ModelConfig& c) {
  for (int64_t period = 1; period <= std::max<int64_t>(c.num_layers, 1); ++period) {
    bool same = true;
    for (int64_t l = 0; l < c.num_layers && same; ++l)
      same = c.sliding(l) == (c.sliding_window > 0 && (l + 1) % period != 0);
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
  if (c.num_experts > 0)
    throw ArgumentError(
        "GGUF export: Mixture-of-Experts models are not written yet; export --format "
        "compressed-tensors or gptq instead");
  if (c.rope_scaling.type == "llama3")
    throw ArgumentError(
        "GGUF export: llama3 rope scaling (llama.cpp stores it as a rope_freqs tensor) is not written yet");
  if (c.architecture == "llama" || c.architecture == "qwen2" || c.architecture == "qwen3" ||
      c.architecture == "gemma2") {
    if (c.architecture != "gemma2" && c.sliding_window > 0)
      throw ArgumentError("GGUF export: a sliding attention window on " + c.architecture +
                          " is not written (llama.cpp's " + c.architecture + " arch has none)");
    return c.architecture;
  }
  if (c.architecture == "gemma3_text") return "gemma3";
  if (c.architecture == "mistral") {
    if (c.sliding_window > 0)
      throw ArgumentError(
          "GGUF export: Mistral's sliding attention window is not written (llama.cpp runs "
          "Mistral as its llama arch, which has none)");
    return "llama";
  }
  throw ArgumentError("GGUF export: " + c.architecture +
                      " models are not written yet (llama, mistral, qwen2, qwen3, gemma2 and gemma3 text are); "
                      "export --format compressed-tensors, gptq or awq instead");
}

void read_gguf_family_options(const io::GgufFile& f, const std::string& arch, ModelConfig& c) {
  const std::string p = arch + ".";
  if (arch == "qwen3") c.qk_norm = true;
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
  set_periodic(c, period);
  if (arch == "gemma3")
    c.sliding_rope_theta =
        f.has(p + "rope.freq_base_swa") ? f.get_float(p + "rope.freq_base_swa") : kGemma3SlidingTheta;
}

std::vector<std::string> write_gguf_family_options(const ModelConfig& c, const std::string& arch, io::GgufWriter& w) {
  std::vector<std::string> notes;
  if (!is_gemma(arch)) return notes;
  const std::string p = arch + ".";
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
