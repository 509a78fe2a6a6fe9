#include "core/checkpoint/gguf_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/checkpoint/gguf_families.h"
#include "core/checkpoint/gguf_tensor_map.h"
#include "core/error.h"
#include "core/io/ggml_dequant.h"
#include "core/io/gguf_file.h"

namespace qs::checkpoint {
namespace {

using model::ModelConfig;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Equal up to leading 1s: llama.cpp declares Qwen2-MoE's shared-expert gate
// [hidden] where transformers has [1, hidden].
bool same_shape(std::vector<int64_t> a, std::vector<int64_t> b) {
  const auto strip = [](std::vector<int64_t>& s) {
    while (s.size() > 1 && s.front() == 1) s.erase(s.begin());
  };
  strip(a);
  strip(b);
  return a == b;
}

// The storage type most weight matrices use ("q4_1"), for ModelConfig::torch_dtype.
std::string dominant_type(const io::GgufFile& f) {
  std::map<std::string, int> counts;
  for (const auto& t : f.tensors())
    if (t.ne.size() >= 2) ++counts[io::ggml_type_name(t.type)];
  if (counts.empty()) return {};
  auto best =
      std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  return lower(best->first);
}

ModelConfig read_config(const io::GgufFile& f) {
  const std::string src = f.path().string();
  ModelConfig c;
  const std::string arch = f.get_string("general.architecture");
  c.architecture = gguf_model_type(src, arch);
  const std::string p = arch + ".";
  c.num_layers = f.get_int(p + "block_count");
  // Every block stores at least its two norms and four linears (Phi-3's fused
  // ones): a larger count is refused before any table is built for it.
  const auto stored = static_cast<int64_t>(f.tensors().size());
  if (c.num_layers < 0 || c.num_layers > stored / 6)
    throw FormatError(src, p + "block_count",
                      std::to_string(c.num_layers) + " blocks declared, but the file holds " + std::to_string(stored) +
                          " tensors (each block needs at least 6)");
  c.hidden_size = f.get_int(p + "embedding_length");
  c.intermediate_size = f.get_int(p + "feed_forward_length");
  c.num_heads = f.get_int(p + "attention.head_count");
  c.num_kv_heads = f.has(p + "attention.head_count_kv") ? f.get_int(p + "attention.head_count_kv") : c.num_heads;
  c.rms_norm_eps = f.get_float(p + "attention.layer_norm_rms_epsilon");
  if (f.has(p + "rope.freq_base")) c.rope_theta = f.get_float(p + "rope.freq_base");
  if (f.has(p + "context_length")) c.max_position_embeddings = f.get_int(p + "context_length");

  if (f.has(p + "vocab_size"))
    c.vocab_size = f.get_int(p + "vocab_size");
  else if (f.has("tokenizer.ggml.tokens"))
    c.vocab_size = static_cast<int64_t>(f.get_string_array("tokenizer.ggml.tokens").size());

  if (f.has(p + "attention.key_length"))
    c.head_dim = f.get_int(p + "attention.key_length");
  else if (c.num_heads > 0)
    c.head_dim = c.hidden_size / c.num_heads;
  if (f.has(p + "attention.value_length") && f.get_int(p + "attention.value_length") != c.head_dim)
    throw ConfigError(src, p + "attention.value_length",
                      "differs from the key length " + std::to_string(c.head_dim) +
                          "; the decoder needs equal key and value head sizes");
  // Only Phi-3 rotates part of each head as transformers does (the first
  // channels, in halves); llama.cpp's Llama-style rope would pair them otherwise.
  if (f.has(p + "rope.dimension_count") && f.get_int(p + "rope.dimension_count") != c.head_dim) {
    const int64_t rotary = f.get_int(p + "rope.dimension_count");
    if (arch != "phi3" || rotary <= 0 || rotary > c.head_dim)
      throw ConfigError(src, p + "rope.dimension_count",
                        std::to_string(rotary) + " differs from head_dim " + std::to_string(c.head_dim) +
                            " (partial rotary embeddings are read for phi3 only)");
    c.partial_rotary_factor = static_cast<double>(rotary) / static_cast<double>(c.head_dim);
    while (c.rotary_dim() < rotary) c.partial_rotary_factor = std::nextafter(c.partial_rotary_factor, 2.0);
  }

  std::string scaling = f.has(p + "rope.scaling.type") ? f.get_string(p + "rope.scaling.type") : "";
  double factor = f.has(p + "rope.scaling.factor") ? f.get_float(p + "rope.scaling.factor") : 0.0;
  // Files from before rope.scaling.* had only a linear scale.
  if (scaling.empty() && f.has(p + "rope.scale_linear")) {
    scaling = "linear";
    factor = f.get_float(p + "rope.scale_linear");
  }
  if (!scaling.empty() && scaling != "none" && !(scaling == "linear" && factor == 1.0)) {
    c.rope_scaling.type = scaling;
    c.rope_scaling.factor = factor;
    if (f.has(p + "rope.scaling.original_context_length"))
      c.rope_scaling.original_max_position_embeddings = f.get_int(p + "rope.scaling.original_context_length");
  }

  c.tie_word_embeddings = f.find_tensor("output.weight") == nullptr;
  // Biases are optional per tensor in llama.cpp; the config takes them by
  // group, as the layer-0 tensors say.
  c.attention_bias = arch == "qwen2" || f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.output_bias = f.find_tensor("blk.0.attn_output.bias") != nullptr;
  c.mlp_bias = f.find_tensor("blk.0.ffn_up.bias") != nullptr;
  if (f.has("tokenizer.ggml.bos_token_id")) c.bos_token_id = f.get_int("tokenizer.ggml.bos_token_id");
  if (f.has("tokenizer.ggml.eos_token_id")) c.eos_token_id = f.get_int("tokenizer.ggml.eos_token_id");
  if (f.has("tokenizer.ggml.padding_token_id")) c.pad_token_id = f.get_int("tokenizer.ggml.padding_token_id");
  c.torch_dtype = dominant_type(f);
  read_gguf_family_options(f, arch, c);
  c.validate(src);
  return c;
}

}  // namespace

model::ModelWeights load_gguf_model(const std::filesystem::path& path) {
  const auto file = std::make_shared<const io::GgufFile>(path);
  const io::GgufFile& f = *file;
  const std::string src = path.string();
  model::ModelWeights w;
  w.config = read_config(f);
  w.source = path;
  w.source_format = "gguf";
  for (const GgufTensorName& e : gguf_tensor_map(w.config)) {
    const io::GgufTensorInfo* info = f.find_tensor(e.gguf);
    const std::string needed = e.parts.empty() ? e.hf : e.parts.front().hf + " and the rest it joins";
    if (!info) {
      if (e.required)
        throw FormatError(src, "tensor '" + e.gguf + "'",
                          "missing (needed for " + needed + " of a " + w.config.architecture + " model)");
      continue;
    }
    if (!same_shape(info->torch_shape(), e.shape))
      throw FormatError(src, "tensor '" + e.gguf + "'",
                        "shape " + shape_text(info->torch_shape()) + " (torch order), expected " + shape_text(e.shape) +
                            " from the metadata");
    if (!io::ggml_can_dequantize(info->type))
      throw FormatError(src, "tensor '" + e.gguf + "'",
                        "dequantization of type " + io::ggml_type_name(info->type) + " is not supported");
    // A joined tensor's parts are row ranges of it, each decoded alone.
    int64_t first = 0;
    for (const auto& part : e.parts) {
      model::DeferredTensor d{
          {part.rows, e.shape.back()},
          [file, info, first, n = part.rows] { return file->dequantize_rows(*info, first, n); },
          [file, info, first](int64_t from, int64_t n) { return file->dequantize_rows(*info, first + from, n); }};
      w.deferred.emplace(part.hf, std::move(d));
      w.source_dtypes.emplace(part.hf, io::ggml_type_name(info->type));
      first += part.rows;
    }
    if (!e.parts.empty()) continue;
    const int64_t heads = e.permute_heads;
    const double added = e.added;
    const auto shape = e.shape;
    model::DeferredTensor d{e.shape,
                            [file, info, heads, added, shape] {
                              auto t = file->dequantize(*info).reshape(shape);
                              if (added != 0.0) t = t - added;
                              return heads > 0 ? unpermute_rows(t, heads) : t;
                            },
                            {}};
    // q and k rows are permuted across each head, so only whole tensors decode
    // for them; rows decode alone only as stored.
    if (heads == 0 && added == 0.0)
      d.decode_rows = [file, info](int64_t first, int64_t n) { return file->dequantize_rows(*info, first, n); };
    w.deferred.emplace(e.hf, std::move(d));
    w.source_dtypes.emplace(e.hf, io::ggml_type_name(info->type));
  }
  return w;
}

}  // namespace qs::checkpoint
