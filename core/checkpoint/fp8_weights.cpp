#include "core/checkpoint/fp8_weights.h"

#include <optional>
#include <vector>

#include "core/error.h"
#include "core/io/json_int.h"
#include "core/model/config_fields.h"

namespace qs::checkpoint {
namespace {

bool is_fp8(torch::ScalarType t) { return t == torch::kFloat8_e4m3fn || t == torch::kFloat8_e5m2; }

std::string shape_text(c10::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// `scale` [ceil(out/bo), ceil(in/bi)] spread over the weight's [out, in].
torch::Tensor per_element(const torch::Tensor& scale, int64_t out, int64_t in, int64_t bo, int64_t bi) {
  return scale.to(torch::kFloat32).repeat_interleave(bo, 0).repeat_interleave(bi, 1).narrow(0, 0, out).narrow(1, 0, in);
}

// A block shape as both configurations write it, [rows, columns]; `v` null
// when absent, which is an error here too.
Fp8Blocks block_shape(const nlohmann::json* v, const std::string& file, const std::string& field) {
  if (!v || !v->is_array() || v->size() != 2 || io::json_int64((*v)[0]).value_or(0) <= 0 ||
      io::json_int64((*v)[1]).value_or(0) <= 0)
    throw FormatError(file, field, "expected two positive integers");
  return {(*v)[0].get<int64_t>(), (*v)[1].get<int64_t>()};
}

}  // namespace

Fp8Blocks hf_fp8_blocks(const nlohmann::json& qconfig, const std::string& file) {
  const model::BasicConfigFields<nlohmann::json> f(qconfig, file, "quantization_config.");
  const auto* block = f.find("weight_block_size");
  return block ? block_shape(block, file, "quantization_config.weight_block_size") : Fp8Blocks{};
}

std::optional<Fp8Blocks> compressed_tensors_fp8_blocks(const nlohmann::json& qc, const std::string& file) {
  using Fields = model::BasicConfigFields<nlohmann::json>;
  const std::string field = "quantization_config";
  const auto format = Fields(qc, file, field + ".").string_or("format", "");
  const auto* groups = qc.is_object() && qc.contains("config_groups") ? &qc["config_groups"] : nullptr;
  if (!groups || !groups->is_object()) return std::nullopt;
  std::optional<Fp8Blocks> out;
  int floats = 0, others = 0;
  for (const auto& [key, g] : groups->items()) {
    const std::string gf = field + ".config_groups." + key;
    if (!g.is_object()) throw FormatError(file, gf, "not an object");
    if (Fields(g, file, gf + ".").string_or("format", format) != "float-quantized") {
      ++others;
      continue;
    }
    ++floats;
    if (!g.contains("weights") || !g["weights"].is_object())
      throw FormatError(file, gf + ".weights", "missing: a float-quantized group quantizes weights");
    const auto& w = g["weights"];
    const Fields wf(w, file, gf + ".weights.");
    if (wf.string_or("type", "float") != "float" || io::json_int64(w.value("num_bits", nlohmann::json())) != 8)
      throw FormatError(file, gf + ".weights", "float-quantized weights are read as 8-bit floats only");
    const auto strategy = wf.string_or("strategy", "tensor");
    Fp8Blocks blocks;
    if (strategy == "block") {
      blocks = block_shape(wf.find("block_structure"), file, gf + ".weights.block_structure");
    } else if (strategy != "tensor" && strategy != "channel") {
      throw FormatError(file, gf + ".weights.strategy",
                        "'" + strategy + "' is not read for float weights (tensor, channel or block)");
    }
    if (out && blocks.out > 0 && out->out > 0 && (out->out != blocks.out || out->in != blocks.in))
      throw FormatError(file, gf + ".weights.block_structure", "differs from another group's block shape");
    if (!out || blocks.out > 0) out = blocks;
  }
  if (floats > 0 && others > 0)
    throw FormatError(file, field + ".config_groups", "mixes float-quantized groups with integer formats");
  return out;
}

void open_fp8_weights(Fp8Blocks blocks, const std::string& file, model::ModelWeights& w) {
  const int64_t bo = blocks.out, bi = blocks.in;
  std::vector<std::string> names;
  for (const auto& [name, t] : w.tensors)
    if (is_fp8(t.scalar_type())) names.push_back(name);
  if (names.empty())
    throw FormatError(w.source.string(), "quantization_config", "says fp8 but no tensor is stored in float8");
  for (const auto& name : names) {
    const auto weight = w.tensors.at(name);
    const std::string tensor = "tensor '" + name + "'";
    const std::string base = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0
                                 ? name.substr(0, name.size() - 7)
                                 : std::string();
    if (base.empty() || weight.dim() != 2)
      throw FormatError(w.source.string(), tensor, "float8, but not a linear's [out, in] weight");
    const int64_t out = weight.size(0), in = weight.size(1);
    torch::Tensor scale;
    std::function<torch::Tensor()> decode;
    if (const auto it = w.tensors.find(base + ".weight_scale_inv"); it != w.tensors.end()) {
      scale = it->second;
      if (bo == 0)
        throw FormatError(file, "quantization_config.weight_block_size", "missing, but " + base + " has a block scale");
      const std::vector<int64_t> want{(out + bo - 1) / bo, (in + bi - 1) / bi};
      if (scale.sizes().vec() != want)
        throw FormatError(
            w.source.string(), "tensor '" + base + ".weight_scale_inv'",
            "shape " + shape_text(scale.sizes()) + ", where the weight's blocks need " + shape_text(want));
      decode = [weight, scale, out, in, bo, bi] {
        return weight.to(torch::kFloat32) * per_element(scale, out, in, bo, bi);
      };
    } else if (const auto it2 = w.tensors.find(base + ".weight_scale");
               it2 != w.tensors.end() && bo > 0 &&
               it2->second.sizes().vec() == std::vector<int64_t>{(out + bo - 1) / bo, (in + bi - 1) / bi}) {
      scale = it2->second;  // compressed-tensors' block strategy
      decode = [weight, scale, out, in, bo, bi] {
        return weight.to(torch::kFloat32) * per_element(scale, out, in, bo, bi);
      };
    } else if (it2 != w.tensors.end()) {
      scale = it2->second;
      if (!(scale.numel() == 1 || scale.numel() == out))
        throw FormatError(w.source.string(), "tensor '" + base + ".weight_scale'",
                          "shape " + shape_text(scale.sizes()) + ": neither one scale nor one per output row");
      decode = [weight, scale, out] {
        return weight.to(torch::kFloat32) * scale.to(torch::kFloat32).reshape({scale.numel() == 1 ? 1 : out, 1});
      };
    } else {
      throw FormatError(w.source.string(), tensor, "float8 without a weight_scale_inv or weight_scale beside it");
    }
    // A float format's zero point is zero; anything else is not FP8 as read here.
    if (const auto z = w.tensors.find(base + ".weight_zero_point");
        z != w.tensors.end() && z->second.ne(0).any().item<bool>())
      throw FormatError(w.source.string(), "tensor '" + base + ".weight_zero_point'", "not zero for a float8 weight");
    w.tensors.erase(name);
    for (const char* part : {".weight_scale_inv", ".weight_scale", ".weight_zero_point", ".input_scale"}) {
      w.tensors.erase(base + part);
      w.source_dtypes.erase(base + part);
    }
    w.deferred[name] = model::DeferredTensor{{out, in}, std::move(decode), {}};
  }
}

}  // namespace qs::checkpoint
