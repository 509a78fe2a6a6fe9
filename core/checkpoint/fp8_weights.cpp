#include "core/checkpoint/fp8_weights.h"

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

}  // namespace

void open_fp8_weights(const nlohmann::json& qconfig, const std::string& file, model::ModelWeights& w) {
  const model::BasicConfigFields<nlohmann::json> f(qconfig, file, "quantization_config.");
  int64_t bo = 0, bi = 0;
  if (const auto* block = f.find("weight_block_size")) {
    if (!block->is_array() || block->size() != 2 || !(*block)[0].is_number_integer() ||
        !(*block)[1].is_number_integer() || io::json_int64((*block)[0]).value_or(0) <= 0 ||
        io::json_int64((*block)[1]).value_or(0) <= 0)
      throw FormatError(file, "quantization_config.weight_block_size", "expected two positive integers");
    bo = (*block)[0].get<int64_t>();
    bi = (*block)[1].get<int64_t>();
  }
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
    } else if (const auto it2 = w.tensors.find(base + ".weight_scale"); it2 != w.tensors.end()) {
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
    w.tensors.erase(name);
    w.tensors.erase(base + ".weight_scale_inv");
    w.tensors.erase(base + ".weight_scale");
    w.source_dtypes.erase(base + ".weight_scale_inv");
    w.source_dtypes.erase(base + ".weight_scale");
    w.deferred[name] = model::DeferredTensor{{out, in}, std::move(decode), {}};
  }
}

}  // namespace qs::checkpoint
