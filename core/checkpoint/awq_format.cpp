// AutoAWQ "gemm" checkpoints (HF transformers and vLLM read them): 4-bit,
// asymmetric, qweight [in, out/8] and qzeros [groups, out/8] in AutoAWQ's
// interleaved order, scales [groups, out]; one group size for the whole model,
// layers kept in FP listed in modules_to_not_convert.

#include "core/checkpoint/checkpoint_format.h"
#include "core/checkpoint/packed_layouts.h"
#include "core/error.h"
#include "core/io/json_int.h"
#include "core/model/config_fields.h"

namespace qs::checkpoint {
namespace {

using json = nlohmann::ordered_json;

class AwqFormat final : public CheckpointFormat {
 public:
  const char* name() const override { return "awq"; }

  void check(const QuantizedMap& quantized, const std::vector<std::string>&) const override {
    const auto spec = uniform_spec(quantized, "AWQ");
    if (spec.bits != 4) throw ArgumentError("AWQ (gemm) checkpoints are 4-bit, not " + std::to_string(spec.bits));
    for (const auto& [name, q] : quantized) {
      refuse_transform(name, *q, "AWQ");
      if (q->g_idx.defined() && !is_trivial_group_index(q->g_idx, q->spec.group_size))
        throw ArgumentError(name + " uses act-order groups, which AWQ checkpoints cannot hold (GPTQ can)");
      if (q->in_features % q->spec.group_size != 0)
        throw ArgumentError(name + ": AWQ needs the group size to divide in_features, and " +
                            std::to_string(q->spec.group_size) + " does not divide " + std::to_string(q->in_features) +
                            " (GPTQ and compressed-tensors hold a shorter last group)");
      if (q->out_features % 8 != 0)
        throw ArgumentError(name + ": AWQ packs 8 output columns per word, and out_features is " +
                            std::to_string(q->out_features));
    }
  }

  void add_linear(const std::string& name, const quant::QuantizedLinear& q, torch::ScalarType dtype,
                  TensorList& out) const override {
    out.emplace_back(name + ".qweight", awq_pack(q.unpacked_codes().to(torch::kInt32)));
    out.emplace_back(name + ".qzeros", awq_pack(q.zeros));
    out.emplace_back(name + ".scales", q.scales.t().to(dtype).contiguous());
    if (q.bias.defined()) out.emplace_back(name + ".bias", q.bias.to(dtype));
  }

  json quantization_config(const QuantizedMap& quantized, const std::vector<std::string>& kept_fp) const override {
    const auto spec = uniform_spec(quantized, "AWQ");
    return {{"quant_method", "awq"},
            {"zero_point", true},
            {"group_size", spec.group_size},
            {"bits", 4},
            {"version", "gemm"},
            {"modules_to_not_convert", kept_fp.empty() ? json(nullptr) : json(kept_fp)}};
  }

  QuantizedMap read(const nlohmann::json& qc, const std::string& source,
                    std::map<std::string, torch::Tensor>& tensors) const override {
    const std::string field = "quantization_config";
    const model::BasicConfigFields<nlohmann::json> f(qc, source, field + ".");
    const auto version = f.string_or("version", "gemm");
    if (version != "gemm" && version != "GEMM")
      throw FormatError(source, field + ".version", "'" + version + "' is not supported (QuantScope reads gemm)");
    if (f.integer_or("bits", f.integer_or("w_bit", 4)) != 4) throw FormatError(source, field + ".bits", "not 4");
    const nlohmann::json group_json =
        qc.contains("group_size") ? qc["group_size"] : qc.value("q_group_size", nlohmann::json(nullptr));
    const auto group_value = io::json_int64(group_json);
    if (!group_value || *group_value == 0 || *group_value < -1)
      throw FormatError(source, field + ".group_size", "missing, or not -1 or a positive integer");
    const int64_t group = *group_value;

    const auto names = modules_with(tensors, ".qweight");

    QuantizedMap out;
    for (const auto& name : names) {
      quant::QuantizedLinear q;
      q.spec.bits = 4;
      auto qweight = take_tensor(tensors, name + ".qweight", source);
      auto qzeros = take_tensor(tensors, name + ".qzeros", source);
      auto scales = take_tensor(tensors, name + ".scales", source);
      if (qweight.dim() != 2 || qweight.scalar_type() != torch::kInt32)
        throw FormatError(source, "tensor '" + name + ".qweight'", "not a 2-D int32 tensor");
      q.in_features = qweight.size(0);
      q.out_features = qweight.size(1) * 8;
      q.spec.group_size = group == -1 ? q.in_features : std::min(group, q.in_features);
      const int64_t groups_n = q.spec.num_groups(q.in_features);
      if (scales.dim() != 2 || scales.size(0) != groups_n || scales.size(1) != q.out_features)
        throw FormatError(source, "tensor '" + name + ".scales'",
                          "shape is not [" + std::to_string(groups_n) + ", " + std::to_string(q.out_features) + "]");
      if (qzeros.dim() != 2 || qzeros.scalar_type() != torch::kInt32 || qzeros.size(0) != groups_n ||
          qzeros.size(1) != q.out_features / 8)
        throw FormatError(source, "tensor '" + name + ".qzeros'",
                          "not int32 [" + std::to_string(groups_n) + ", " + std::to_string(q.out_features / 8) + "]");
      q.codes = awq_unpack(qweight, q.out_features).to(torch::kUInt8);
      q.zeros = awq_unpack(qzeros, q.out_features);
      q.scales = scales.t().to(torch::kFloat32).contiguous();
      if (tensors.count(name + ".bias")) q.bias = take_tensor(tensors, name + ".bias", source).to(torch::kFloat32);
      q.validate(source, name);
      // Held in QuantScope's packing: a model's worth of uint8 codes is twice that.
      out[name] = std::make_shared<const quant::QuantizedLinear>(q.with_packed_codes());
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<CheckpointFormat> make_awq_format() { return std::make_unique<AwqFormat>(); }

}  // namespace qs::checkpoint
