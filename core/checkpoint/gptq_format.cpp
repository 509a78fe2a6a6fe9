// GPTQ checkpoints as AutoGPTQ / GPTQModel / HF transformers read them:
// qweight, qzeros, scales, g_idx per linear; one bits/group setting for the
// whole model. checkpoint_format "gptq" (v1, what every loader reads) stores
// zero − 1 and so cannot hold a zero point of 0, which asymmetric grids meet
// in a group of one sign (AWQ's scaled weights do); "gptq_v2" (GPTQModel's,
// which transformers reads through it) stores the zero itself.

#include "core/checkpoint/checkpoint_format.h"
#include "core/checkpoint/packed_layouts.h"
#include "core/error.h"
#include "core/io/json_int.h"
#include "core/model/config_fields.h"

namespace qs::checkpoint {
namespace {

using json = nlohmann::ordered_json;

bool supported_bits(int bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 8; }

class GptqFormat final : public CheckpointFormat {
 public:
  explicit GptqFormat(GptqZeros zeros) : zeros_(zeros) {}
  const char* name() const override { return zeros_ == GptqZeros::kAsIs ? "gptq-v2" : "gptq"; }

  void check(const QuantizedMap& quantized, const std::vector<std::string>& kept_fp) const override {
    const auto spec = uniform_spec(quantized, "GPTQ");
    if (!supported_bits(spec.bits))
      throw ArgumentError("GPTQ checkpoints hold 2, 3, 4 or 8 bits, not " + std::to_string(spec.bits));
    if (!kept_fp.empty())
      throw ArgumentError(kept_fp.front() +
                          " is kept in FP, and a GPTQ config has no per-layer exclusion that "
                          "every loader honours (compressed-tensors and AWQ can hold it)");
    for (const auto& [name, q] : quantized) {
      refuse_transform(name, *q, "GPTQ");
      if ((q->in_features * spec.bits) % 32 != 0 || (q->out_features * spec.bits) % 32 != 0)
        throw ArgumentError(name + ": GPTQ packs whole 32-bit words, and " + std::to_string(q->out_features) + "×" +
                            std::to_string(q->in_features) + " at " + std::to_string(spec.bits) +
                            " bits does not fill them");
      if (zeros_ == GptqZeros::kMinusOne && q->zeros.min().item<int64_t>() < 1)
        throw ArgumentError(name +
                            " has a zero point of 0, which GPTQ v1 (it stores zero − 1) cannot hold; "
                            "export as gptq-v2 or compressed-tensors, or quantize symmetric");
    }
  }

  void add_linear(const std::string& name, const quant::QuantizedLinear& q, torch::ScalarType dtype,
                  TensorList& out) const override {
    out.emplace_back(name + ".qweight", gptq_pack_weight(q.unpacked_codes(), q.spec.bits));
    out.emplace_back(name + ".qzeros", gptq_pack_zeros(q.zeros, q.spec.bits, zeros_));
    out.emplace_back(name + ".scales", q.scales.t().to(dtype).contiguous());
    out.emplace_back(name + ".g_idx", group_index(q));
    if (q.bias.defined()) out.emplace_back(name + ".bias", q.bias.to(dtype));
  }

  json quantization_config(const QuantizedMap& quantized, const std::vector<std::string>&) const override {
    const auto spec = uniform_spec(quantized, "GPTQ");
    const auto& any = *quantized.begin()->second;
    const bool per_channel = spec.group_size >= any.in_features;
    bool act_order = false;
    for (const auto& [n, q] : quantized)
      act_order = act_order || (q->g_idx.defined() && !is_trivial_group_index(q->g_idx, q->spec.group_size));
    return {{"quant_method", "gptq"},
            {"bits", spec.bits},
            {"group_size", per_channel ? int64_t{-1} : spec.group_size},
            {"desc_act", act_order},
            {"sym", spec.symmetric},
            {"static_groups", false},
            {"true_sequential", true},
            {"damp_percent", 0.01},
            {"checkpoint_format", zeros_ == GptqZeros::kAsIs ? "gptq_v2" : "gptq"}};
  }

  QuantizedMap read(const nlohmann::json& qc, const std::string& source,
                    std::map<std::string, torch::Tensor>& tensors) const override {
    const std::string field = "quantization_config";
    if (!qc.contains("bits") || !qc["bits"].is_number_integer() || !supported_bits(qc["bits"].get<int>()))
      throw FormatError(source, field + ".bits", "missing, or not 2, 3, 4 or 8");
    const auto group_value = qc.contains("group_size") ? io::json_int64(qc["group_size"]) : std::nullopt;
    if (!group_value || *group_value == 0 || *group_value < -1)
      throw FormatError(source, field + ".group_size", "missing, or not -1 or a positive integer");
    const model::BasicConfigFields<nlohmann::json> f(qc, source, field + ".");
    const auto ckpt = f.string_or("checkpoint_format", "gptq");
    const bool symmetric = f.boolean_or("sym", true);
    if (ckpt != "gptq" && ckpt != "gptq_v2")
      throw FormatError(source, field + ".checkpoint_format", "'" + ckpt + "' is not supported (gptq or gptq_v2)");
    const int bits = qc["bits"].get<int>();
    const int64_t group = *group_value;

    const auto names = modules_with(tensors, ".qweight");

    QuantizedMap out;
    for (const auto& name : names) {
      quant::QuantizedLinear q;
      q.spec.bits = bits;
      q.spec.symmetric = symmetric;
      auto qweight = take_tensor(tensors, name + ".qweight", source);
      auto scales = take_tensor(tensors, name + ".scales", source);
      if (qweight.dim() != 2 || qweight.scalar_type() != torch::kInt32)
        throw FormatError(source, "tensor '" + name + ".qweight'", "not a 2-D int32 tensor");
      if (scales.dim() != 2) throw FormatError(source, "tensor '" + name + ".scales'", "not 2-D [groups, out]");
      q.in_features = qweight.size(0) * 32 / bits;
      q.out_features = qweight.size(1);
      q.spec.group_size = group == -1 ? q.in_features : std::min(group, q.in_features);
      const int64_t groups_n = q.spec.num_groups(q.in_features);
      if (scales.size(0) != groups_n || scales.size(1) != q.out_features)
        throw FormatError(source, "tensor '" + name + ".scales'",
                          "shape is not [" + std::to_string(groups_n) + ", " + std::to_string(q.out_features) + "]");
      const std::string zname = name + ".qzeros";
      try {
        q.packed_codes = gptq_weight_as_packed(qweight, bits, q.in_features);
        auto qzeros = take_tensor(tensors, zname, source);
        if (qzeros.dim() != 2 || qzeros.size(0) != groups_n)
          throw ArgumentError("shape is not [" + std::to_string(groups_n) + ", out·bits/32]");
        q.zeros = gptq_unpack_zeros(qzeros, bits, q.out_features,
                                    ckpt == "gptq_v2" ? GptqZeros::kAsIs : GptqZeros::kMinusOne);
      } catch (const ArgumentError& e) {
        throw FormatError(source, "tensor '" + zname + "'", e.what());
      }
      // v1 stores zero − 1, so an all-ones pattern means a zero point of 2^bits, off the grid.
      if (ckpt == "gptq" && q.zeros.max().item<int64_t>() > q.spec.max_code())
        throw FormatError(source, "tensor '" + zname + "'",
                          "a stored zero − 1 of " + std::to_string(q.spec.max_code()) +
                              " means a zero point of 2^bits, outside the " + std::to_string(bits) + "-bit grid");
      q.scales = scales.t().to(torch::kFloat32).contiguous();
      if (tensors.count(name + ".g_idx")) {
        auto g = take_tensor(tensors, name + ".g_idx", source).to(torch::kInt32);
        if (g.numel() != q.in_features)
          throw FormatError(source, "tensor '" + name + ".g_idx'", "length differs from in_features");
        if (!is_trivial_group_index(g, q.spec.group_size)) q.g_idx = g;
      }
      if (tensors.count(name + ".bias")) q.bias = take_tensor(tensors, name + ".bias", source).to(torch::kFloat32);
      q.validate(source, name);
      out[name] = std::make_shared<const quant::QuantizedLinear>(std::move(q));
    }
    return out;
  }

 private:
  GptqZeros zeros_;
};

}  // namespace

std::unique_ptr<CheckpointFormat> make_gptq_format() { return std::make_unique<GptqFormat>(GptqZeros::kMinusOne); }
std::unique_ptr<CheckpointFormat> make_gptq_v2_format() { return std::make_unique<GptqFormat>(GptqZeros::kAsIs); }

}  // namespace qs::checkpoint
