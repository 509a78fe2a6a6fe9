#pragma once
// The decoder families QuantScope runs, one file each under model/families/,
// registered in architecture.cpp. A family is what its HF config says beyond
// the sizes and RoPE every family has, and how that is written back; the
// forward is one (decoder.cpp), steered by ModelConfig's options.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/model/config_fields.h"
#include "core/model/model_config.h"
#include "core/model/model_weights.h"

namespace qs::model {

struct Architecture {
  std::string_view model_type;  // HF "model_type"
  std::string_view hf_class;    // HF "architectures"[0]
  // Whether the config has switches that put biases on q/k/v/o
  // ("attention_bias") and on gate/up/down ("mlp_bias"): where a method leaves
  // a bias an export can then keep it.
  bool attention_bias_switch;
  bool mlp_bias_switch;
  // Sets the family's options from its config; sizes, biases, the activation,
  // RoPE and any "layer_types" list are read already.
  void (*read)(const ConfigFields& f, ModelConfig& c);
  // Adds the family's own keys to a config being written.
  void (*write)(const ModelConfig& c, nlohmann::ordered_json& j);
  // Where the checkpoint stores linears fused (Phi-3's qkv_proj and
  // gate_up_proj): replaces them by views of the logical linears under their
  // Llama names, which the decoder, the inspector and per-layer choices use;
  // a fused export joins them again (fused_linears). nullptr: none fused.
  void (*split_fused)(ModelWeights& w) = nullptr;
  // The fused module and its parts, in row order: {"self_attn.qkv_proj",
  // {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}}, ...
  std::vector<std::pair<std::string_view, std::vector<std::string_view>>> fused_linears = {};
  // Where the checkpoint names modules otherwise than the decoder's logical
  // names (Mixtral's block_sparse_moe.experts.3.w1 for mlp.experts.3.gate_proj):
  // each maps a full tensor or module name and leaves names it does not know
  // alone. nullptr: the checkpoint uses the logical names.
  std::string (*logical_name)(const std::string& stored) = nullptr;
  std::string (*stored_name)(const std::string& logical) = nullptr;
};

// The family of HF model_type `model_type`, or nullptr.
const Architecture* find_architecture(std::string_view model_type);
// "gemma2, gemma3_text, llama, ...": for messages naming what is supported.
std::string supported_architectures();

// The name the family's checkpoints give the tensor or module `logical`.
std::string stored_name(const ModelConfig& c, const std::string& logical);

// Layer i slides when (i + 1) is not a multiple of `period` (Gemma 2's
// alternation is period 2, Gemma 3's five-local-one-global period 6). Throws
// qs::ConfigError naming `f`'s file and `key` when the period is not positive.
void set_periodic_layer_types(const ConfigFields& f, const char* key, int64_t period, ModelConfig& c);

}  // namespace qs::model
