#include "core/checkpoint/peft_adapter_reader.h"

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/model/config_fields.h"
#include "core/io/safetensors.h"
#include "core/io/small_files.h"
#include "core/quant/quantized_linear.h"

namespace qs::checkpoint {
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

constexpr const char* kPrefix = "base_model.model.";

struct Factors {
  torch::Tensor a;
  torch::Tensor b;
};

// "base_model.model.<module>.lora_A.weight" → module, factor 'A'/'B'; false otherwise.
bool parse_key(const std::string& key, std::string* module, char* factor) {
  static const std::string a = ".lora_A.weight", b = ".lora_B.weight";
  std::string k = key.rfind(kPrefix, 0) == 0 ? key.substr(std::string(kPrefix).size()) : key;
  for (const auto* suffix : {&a, &b})
    if (k.size() > suffix->size() && k.compare(k.size() - suffix->size(), suffix->size(), *suffix) == 0) {
      *module = k.substr(0, k.size() - suffix->size());
      *factor = suffix == &a ? 'A' : 'B';
      return true;
    }
  return false;
}

double number(const json& config, const std::string& key, const std::string& module, const std::string& file) {
  const std::string pattern = key == "r" ? "rank_pattern" : "alpha_pattern";
  if (config.contains(pattern) && config[pattern].is_object())
    for (const auto& [name, v] : config[pattern].items())
      if ((module == name || (module.size() > name.size() &&
                              module.compare(module.size() - name.size() - 1, name.size() + 1, "." + name) == 0)) &&
          v.is_number())
        return v.get<double>();
  if (!config.contains(key) || !config[key].is_number() || config[key].get<double>() <= 0)
    throw FormatError(file, key, "missing or not a positive number");
  return config[key].get<double>();
}

}  // namespace

fs::path adapter_beside(const fs::path& checkpoint) {
  const auto dir = (fs::is_directory(checkpoint) ? checkpoint : checkpoint.parent_path()) / "adapter";
  return fs::exists(dir / "adapter_config.json") ? dir : fs::path();
}

void read_peft_adapter(const fs::path& dir, model::ModelWeights& w) {
  const std::string config_file = (dir / "adapter_config.json").string();
  json config;
  try {
    config = json::parse(io::read_small_file(dir / "adapter_config.json"));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(config_file, "adapter_config.json", std::string("not JSON: ") + e.what());
  }
  if (!config.is_object()) throw FormatError(config_file, "adapter_config.json", "is not a JSON object");
  const model::BasicConfigFields<json> f(config, config_file);
  if (f.string_or("peft_type", "") != "LORA")
    throw FormatError(config_file, "peft_type", "only LORA adapters can be read");
  if (f.boolean_or("use_dora", false))
    throw FormatError(config_file, "use_dora", "DoRA adapters rescale the base weight and cannot be a side branch");
  if (f.boolean_or("fan_in_fan_out", false))
    throw FormatError(config_file, "fan_in_fan_out", "transposed (Conv1D) adapters are not supported");
  const bool rslora = f.boolean_or("use_rslora", false);

  const io::SafetensorsFile st(dir / "adapter_model.safetensors");
  const std::string file = st.path().string();
  std::map<std::string, Factors> factors;
  for (const auto& e : st.entries()) {
    std::string module;
    char f = 0;
    if (!parse_key(e.name, &module, &f))
      throw FormatError(file, "tensor '" + e.name + "'", "is not a LoRA factor (…lora_A.weight / …lora_B.weight)");
    (f == 'A' ? factors[module].a : factors[module].b) = st.load(e.name).to(torch::kFloat32);
  }
  if (factors.empty()) throw FormatError(file, "tensors", "the adapter holds no LoRA factor");
  for (const auto& [module, ab] : factors) {
    const std::string field =
        "tensor '" + std::string(kPrefix) + module + ".lora_" + (ab.a.defined() ? "B" : "A") + ".weight'";
    if (!ab.a.defined() || !ab.b.defined()) throw FormatError(file, field, "missing (each module needs A and B)");
    const std::string a_field = "tensor '" + std::string(kPrefix) + module + ".lora_A.weight'";
    auto it = w.quantized.find(module);
    if (it == w.quantized.end() && !w.has(module + ".weight"))
      throw FormatError(file, a_field, "targets " + module + ", which is not a linear of " + w.source.string());
    const auto dense = it == w.quantized.end() ? w.shape(module + ".weight") : std::vector<int64_t>{};
    if (it == w.quantized.end() && dense.size() != 2)
      throw FormatError(file, a_field, "targets " + module + ", which is not a 2-D weight in " + w.source.string());
    const int64_t out = it != w.quantized.end() ? it->second->out_features : dense[0];
    const int64_t in = it != w.quantized.end() ? it->second->in_features : dense[1];
    const int64_t r = ab.a.size(0);
    if (ab.a.dim() != 2 || ab.b.dim() != 2 || ab.a.size(1) != in || ab.b.size(0) != out || ab.b.size(1) != r)
      throw FormatError(file, a_field,
                        "shapes do not fit a " + std::to_string(out) + "x" + std::to_string(in) + " linear");
    const double alpha = number(config, "lora_alpha", module, config_file);
    const double rank = number(config, "r", module, config_file);
    const double scaling = rslora ? alpha / std::sqrt(rank) : alpha / rank;
    const auto b = scaling == 1.0 ? ab.b.contiguous() : (ab.b * scaling).contiguous();
    if (it == w.quantized.end()) {
      // A dense layer (an FP linear, or one dequantized from GGUF blocks) takes the branch merged in.
      const auto name = module + ".weight";
      if (auto d = w.deferred.find(name); d != w.deferred.end()) {
        d->second.decode = [base = d->second.decode, b, a = ab.a] { return base() + torch::matmul(b, a); };
        d->second.decode_rows = {};  // rows of the stored matrix alone would leave the branch out
      } else {
        w.tensors[name] = w.tensors[name].to(torch::kFloat32) + torch::matmul(b, ab.a);
      }
      continue;
    }
    auto q = *it->second;
    q.lora_a = ab.a.contiguous();
    q.lora_b = b;
    w.quantized[module] = std::make_shared<const quant::QuantizedLinear>(std::move(q));
  }
}

}  // namespace qs::checkpoint
