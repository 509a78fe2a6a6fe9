// Phi-3, Phi-3.5 and Phi-4-mini: Llama's block with q, k and v fused in one
// qkv_proj and gate and up in one gate_up_proj, no biases, RoPE over the first
// partial_rotary_factor of each head with LongRoPE's short and long factors,
// and optionally one sliding window for every layer (Phi-3-mini-4k's 2047).
#include "core/error.h"
#include "core/model/families/uniform_window.h"
#include "core/quant/row_stack.h"

namespace qs::model::families {
namespace {

void split_rows(ModelWeights& w, const std::string& fused, const std::vector<std::pair<std::string, int64_t>>& parts) {
  int64_t rows = 0;
  for (const auto& [part, n] : parts) rows += n;
  if (const auto it = w.quantized.find(fused); it != w.quantized.end()) {
    const auto q = it->second;
    if (q->out_features != rows)
      throw FormatError(w.source.string(), "linear '" + fused + "'",
                        std::to_string(q->out_features) + " rows, expected " + std::to_string(rows));
    int64_t first = 0;
    for (const auto& [part, n] : parts) {
      w.quantized[part] = std::make_shared<const quant::QuantizedLinear>(quant::slice_rows(*q, first, n));
      first += n;
    }
    w.quantized.erase(fused);
    return;
  }
  const std::string name = fused + ".weight";
  if (const auto d = w.deferred.find(name); d != w.deferred.end()) {  // decoded when built (FP8, GGUF)
    const auto whole = d->second;
    if (whole.shape.size() != 2 || whole.shape[0] != rows)
      throw FormatError(w.source.string(), "tensor '" + name + "'", "expected " + std::to_string(rows) + " rows");
    const auto dtype = w.source_dtypes.count(name) ? w.source_dtypes.at(name) : std::string();
    int64_t first = 0;
    for (const auto& [part, n] : parts) {
      // Each part decodes the whole matrix and keeps its rows: a fused block
      // is built once per part, and released with the block.
      w.deferred[part + ".weight"] =
          DeferredTensor{{n, whole.shape[1]}, [whole, first, n = n] { return whole.decode().narrow(0, first, n); }, {}};
      if (!dtype.empty()) w.source_dtypes[part + ".weight"] = dtype;
      first += n;
    }
    w.erase(name);
    w.source_dtypes.erase(name);
    return;
  }
  if (!w.tensors.count(name)) return;  // a QuantScope checkpoint holds the parts already
  const auto whole = w.tensors.at(name);
  if (whole.dim() != 2 || whole.size(0) != rows)
    throw FormatError(
        w.source.string(), "tensor '" + name + "'",
        "has " + std::to_string(whole.dim() == 2 ? whole.size(0) : -1) + " rows, expected " + std::to_string(rows));
  const auto dtype = w.source_dtypes.count(name) ? w.source_dtypes.at(name) : std::string();
  int64_t first = 0;
  for (const auto& [part, n] : parts) {
    w.tensors[part + ".weight"] = whole.narrow(0, first, n);
    if (!dtype.empty()) w.source_dtypes[part + ".weight"] = dtype;
    first += n;
  }
  w.erase(name);
  w.source_dtypes.erase(name);
}

void split(ModelWeights& w) {
  const auto& c = w.config;
  const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    split_rows(w, p + "self_attn.qkv_proj",
               {{p + "self_attn.q_proj", q}, {p + "self_attn.k_proj", kv}, {p + "self_attn.v_proj", kv}});
    split_rows(w, p + "mlp.gate_up_proj",
               {{p + "mlp.gate_proj", c.intermediate_size}, {p + "mlp.up_proj", c.intermediate_size}});
  }
}

}  // namespace

const Architecture kPhi3{
    "phi3",
    "Phi3ForCausalLM",
    false,
    false,
    [](const ConfigFields& f, ModelConfig& c) {
      c.attention_bias = c.output_bias = c.mlp_bias = false;
      read_uniform_window(f, c, 0);
    },
    write_uniform_window,
    split,
    {{"self_attn.qkv_proj", {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}},
     {"mlp.gate_up_proj", {"mlp.gate_proj", "mlp.up_proj"}}},
};

}  // namespace qs::model::families
