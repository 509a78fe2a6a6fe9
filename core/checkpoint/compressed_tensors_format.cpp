// compressed-tensors "pack-quantized" (neuralmagic/compressed-tensors, the
// format llm-compressor writes and vLLM and HF transformers load): per linear
// weight_packed, weight_scale, weight_zero_point (asymmetric), weight_shape and
// weight_g_idx (act-order); one config group per distinct bits/group/symmetric
// setting, targeting "Linear" when there is one and module names otherwise.

#include <regex>
#include <set>

#include "core/checkpoint/checkpoint_format.h"
#include "core/checkpoint/packed_layouts.h"
#include "core/error.h"
#include "core/io/json_int.h"
#include "core/model/config_fields.h"

namespace qs::checkpoint {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* kFormat = "pack-quantized";

bool packable(int bits) { return bits == 2 || bits == 4 || bits == 8; }

std::string spec_key(const quant::QuantSpec& s) {
  return std::to_string(s.bits) + "/" + std::to_string(s.group_size) + "/" + (s.symmetric ? "s" : "a");
}

json weights_scheme(const quant::QuantizedLinear& q) {
  const bool per_channel = q.spec.group_size >= q.in_features;
  const bool act_order = q.g_idx.defined() && !is_trivial_group_index(q.g_idx, q.spec.group_size);
  return {{"num_bits", q.spec.bits},
          {"type", "int"},
          {"symmetric", q.spec.symmetric},
          {"group_size", per_channel ? json(nullptr) : json(q.spec.group_size)},
          {"strategy", per_channel ? "channel" : "group"},
          {"block_structure", nullptr},
          {"dynamic", false},
          {"actorder", act_order ? json("group") : json(nullptr)},
          {"observer", "minmax"},
          {"observer_kwargs", json::object()}};
}

class CompressedTensorsFormat final : public CheckpointFormat {
 public:
  const char* name() const override { return "compressed-tensors"; }

  void check(const QuantizedMap& quantized, const std::vector<std::string>&) const override {
    for (const auto& [name, q] : quantized) {
      refuse_transform(name, *q, "compressed-tensors");
      if (!packable(q->spec.bits))
        throw ArgumentError(name + " is " + std::to_string(q->spec.bits) +
                            "-bit; compressed-tensors pack-quantized is written for 2, 4 and 8 bits (GPTQ holds 3)");
      // compressed-tensors (0.19) refuses to load a group that does not divide the row.
      if (q->in_features % q->spec.group_size != 0)
        throw ArgumentError(name + ": compressed-tensors needs the group size to divide in_features, and " +
                            std::to_string(q->spec.group_size) + " does not divide " + std::to_string(q->in_features) +
                            " (GPTQ holds a shorter last group)");
      if (q->spec.symmetric && q->zeros.ne(1 << (q->spec.bits - 1)).any().item<bool>())
        throw ArgumentError(name + " is marked symmetric but has a zero point other than 2^(bits-1)");
    }
  }

  void add_linear(const std::string& name, const quant::QuantizedLinear& q, torch::ScalarType dtype,
                  TensorList& out) const override {
    out.emplace_back(name + ".weight_packed", ct_pack_weight(q.unpacked_codes(), q.spec.bits));
    out.emplace_back(name + ".weight_scale", q.scales.to(dtype).contiguous());
    if (!q.spec.symmetric) out.emplace_back(name + ".weight_zero_point", ct_pack_zeros(q.zeros, q.spec.bits));
    out.emplace_back(name + ".weight_shape", torch::tensor({q.out_features, q.in_features}, torch::kInt64));
    if (q.g_idx.defined() && !is_trivial_group_index(q.g_idx, q.spec.group_size))
      out.emplace_back(name + ".weight_g_idx", q.g_idx.to(torch::kInt32));
    if (q.bias.defined()) out.emplace_back(name + ".bias", q.bias.to(dtype));
  }

  json quantization_config(const QuantizedMap& quantized, const std::vector<std::string>& kept_fp) const override {
    std::map<std::string, std::vector<std::string>> by_spec;
    std::map<std::string, json> scheme;
    for (const auto& [name, q] : quantized) {
      const auto key = spec_key(q->spec) + (weights_scheme(*q)["actorder"].is_null() ? "" : "/act");
      by_spec[key].push_back(name);
      scheme.emplace(key, weights_scheme(*q));
    }
    json groups = json::object();
    int i = 0;
    for (const auto& [key, names] : by_spec) {
      groups["group_" + std::to_string(i++)] = {
          {"targets", by_spec.size() == 1 ? json::array({"Linear"}) : json(names)},
          {"weights", scheme[key]},
          {"input_activations", nullptr},
          {"output_activations", nullptr},
          {"format", kFormat}};
    }
    json ignore = json::array({"lm_head"});
    for (const auto& n : kept_fp) ignore.push_back(n);
    return {{"quant_method", "compressed-tensors"},
            {"format", kFormat},
            {"quantization_status", "compressed"},
            {"config_groups", groups},
            {"ignore", ignore},
            {"kv_cache_scheme", nullptr},
            {"global_compression_ratio", nullptr},
            {"sparsity_config", json::object()}};
  }

  QuantizedMap read(const nlohmann::json& qc, const std::string& source,
                    std::map<std::string, torch::Tensor>& tensors) const override {
    const std::string field = "quantization_config";
    using Fields = model::BasicConfigFields<nlohmann::json>;
    const auto format = Fields(qc, source, field + ".").string_or("format", kFormat);
    if (!qc.contains("config_groups") || !qc["config_groups"].is_object())
      throw FormatError(source, field + ".config_groups", "missing or not an object");
    struct Group {
      std::string key;
      std::vector<std::string> targets;
      nlohmann::json weights;
    };
    std::vector<Group> groups;
    for (const auto& [key, g] : qc["config_groups"].items()) {
      const std::string gf = field + ".config_groups." + key;
      if (!g.is_object() || !g.contains("targets") || !g["targets"].is_array())
        throw FormatError(source, gf + ".targets", "missing or not a list");
      if (const auto group_format = Fields(g, source, gf + ".").string_or("format", format); group_format != kFormat)
        throw FormatError(source, gf + ".format",
                          "'" + group_format + "' is not supported (QuantScope reads " + kFormat + ")");
      if (!g.contains("weights") || !g["weights"].is_object())
        throw FormatError(source, gf + ".weights", "missing: only weight quantization is read");
      if (g.contains("input_activations") && !g["input_activations"].is_null())
        throw FormatError(source, gf + ".input_activations", "activation quantization is not supported");
      Group out{key, {}, g["weights"]};
      for (const auto& t : g["targets"]) {
        if (!t.is_string()) throw FormatError(source, gf + ".targets", "not a list of strings");
        out.targets.push_back(t.get<std::string>());
      }
      groups.push_back(std::move(out));
    }

    const auto names = modules_with(tensors, ".weight_packed");

    QuantizedMap out;
    for (const auto& name : names) {
      const Group* group = nullptr;
      for (const auto& g : groups) {
        for (const auto& t : g.targets) {
          const bool match =
              t == "Linear" || t == name || (t.rfind("re:", 0) == 0 && std::regex_match(name, std::regex(t.substr(3))));
          if (match && !group) group = &g;
        }
      }
      if (!group) throw FormatError(source, field + ".config_groups", "no group targets " + name);
      const std::string wf = field + ".config_groups." + group->key + ".weights";
      const auto& w = group->weights;
      const Fields wfields(w, source, wf + ".");
      if (wfields.string_or("type", "int") != "int")
        throw FormatError(source, wf + ".type", "only integer weights are read");
      if (!w.contains("num_bits") || !w["num_bits"].is_number_integer() || !packable(w["num_bits"].get<int>()))
        throw FormatError(source, wf + ".num_bits", "missing, or not 2, 4 or 8");
      const auto strategy = wfields.string_or("strategy", "group");
      if (strategy != "group" && strategy != "channel")
        throw FormatError(source, wf + ".strategy", "'" + strategy + "' is not supported (group or channel)");

      quant::QuantizedLinear q;
      q.spec.bits = w["num_bits"].get<int>();
      q.spec.symmetric = wfields.boolean_or("symmetric", true);
      const auto shape = take_tensor(tensors, name + ".weight_shape", source).to(torch::kInt64);
      if (shape.numel() != 2) throw FormatError(source, "tensor '" + name + ".weight_shape'", "not [out, in]");
      q.out_features = shape[0].item<int64_t>();
      q.in_features = shape[1].item<int64_t>();
      if (q.out_features <= 0 || q.in_features <= 0)
        throw FormatError(source, "tensor '" + name + ".weight_shape'", "not positive");
      if (strategy == "group") {
        if (!w.contains("group_size") || io::json_int64(w["group_size"]).value_or(0) <= 0)
          throw FormatError(source, wf + ".group_size", "missing or not a positive integer");
        q.spec.group_size = std::min(w["group_size"].get<int64_t>(), q.in_features);
      } else {
        q.spec.group_size = q.in_features;
      }
      const std::string packed_name = name + ".weight_packed";
      try {
        q.packed_codes = ct_weight_as_packed(take_tensor(tensors, packed_name, source), q.spec.bits, q.in_features);
      } catch (const ArgumentError& e) {
        throw FormatError(source, "tensor '" + packed_name + "'", e.what());
      }
      q.scales = take_tensor(tensors, name + ".weight_scale", source).to(torch::kFloat32).contiguous();
      if (q.scales.dim() == 1) q.scales = q.scales.unsqueeze(1);
      const int64_t groups_n = q.spec.num_groups(q.in_features);
      if (q.scales.dim() != 2 || q.scales.size(0) != q.out_features || q.scales.size(1) != groups_n)
        throw FormatError(source, "tensor '" + name + ".weight_scale'",
                          "shape is not [" + std::to_string(q.out_features) + ", " + std::to_string(groups_n) + "]");
      if (q.spec.symmetric) {
        tensors.erase(name + ".weight_zero_point");
        q.zeros = torch::full({q.out_features, groups_n}, 1 << (q.spec.bits - 1), torch::kInt32);
      } else {
        const std::string zname = name + ".weight_zero_point";
        try {
          q.zeros = ct_unpack_zeros(take_tensor(tensors, zname, source), q.spec.bits, q.out_features);
        } catch (const ArgumentError& e) {
          throw FormatError(source, "tensor '" + zname + "'", e.what());
        }
      }
      if (tensors.count(name + ".weight_g_idx"))
        q.g_idx = take_tensor(tensors, name + ".weight_g_idx", source).to(torch::kInt32);
      if (tensors.count(name + ".bias")) q.bias = take_tensor(tensors, name + ".bias", source).to(torch::kFloat32);
      q.validate(source, name);
      out[name] = std::make_shared<const quant::QuantizedLinear>(std::move(q));
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<CheckpointFormat> make_compressed_tensors_format() {
  return std::make_unique<CompressedTensorsFormat>();
}

}  // namespace qs::checkpoint
