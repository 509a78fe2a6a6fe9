#include "core/checkpoint/block_tensors.h"

#include <array>

#include "core/error.h"
#include "core/io/mapped_tensor.h"
#include "core/model/quantized_linear_op.h"
#include "core/model/transform_sharing.h"
#include "core/quant/packing.h"

namespace qs::checkpoint {
using ojson = nlohmann::ordered_json;

namespace {

// Optional per-linear tensors, stored under "<name>.<suffix>" as float32 (g_idx: int32).
constexpr std::array<const char*, 6> kOptional = {"g_idx", "bias", "input_scale", "transform", "lora_a", "lora_b"};

torch::Tensor* optional_field(quant::QuantizedLinear& q, const std::string& suffix) {
  if (suffix == "g_idx") return &q.g_idx;
  if (suffix == "bias") return &q.bias;
  if (suffix == "input_scale") return &q.input_scale;
  if (suffix == "transform") return &q.transform;
  if (suffix == "lora_a") return &q.lora_a;
  if (suffix == "lora_b") return &q.lora_b;
  return nullptr;
}

}  // namespace

void append_block_tensors(const model::Decoder& decoder, int64_t layer, const Provenance& provenance,
                          NamedTensors& tensors, ojson& linears) {
  auto add = [&](const std::string& name, const torch::Tensor& t) { tensors.push_back(io::pending(name, t)); };
  auto later = [&](const std::string& name, torch::ScalarType dtype, std::vector<int64_t> shape,
                   std::function<torch::Tensor()> build) {
    tensors.push_back({name, dtype, std::move(shape), std::move(build)});
  };
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  for (const auto& [name, norm] : decoder.stored_block_tensors(layer)) add(name, norm);
  model::TransformSharing sharing;
  for (auto role : decoder.linear_roles(layer)) {
    const auto name = model::linear_name(layer, role);
    const auto op = decoder.linear(layer, role);
    const auto* qop = dynamic_cast<const model::QuantizedLinearOp*>(op.get());
    if (!qop) {
      const auto dtype = decoder.dtype();
      later(name + ".weight", dtype, {op->out_features(), op->in_features()},
            [op, dtype] { return op->dense_weight().to(dtype); });
      if (op->bias().defined()) add(name + ".bias", op->bias());
      continue;
    }
    auto q = qop->record()->to(torch::kCPU);
    later(name + ".qweight", torch::kInt32, {q.out_features, quant::packed_words(q.in_features, q.spec.bits)}, [q] {
      auto packed = q.packed();
      io::release_mapped_pages(q.packed_codes);
      return packed;
    });
    add(name + ".scales", q.scales.to(torch::kFloat32));
    add(name + ".qzeros", q.zeros.to(torch::kInt32));
    const auto holder = q.transform.defined() ? sharing.holder_of(q.transform, name) : std::nullopt;
    if (holder) q.transform = torch::Tensor();
    for (const char* suffix : kOptional) {
      const auto* t = optional_field(q, suffix);
      if (t->defined())
        add(name + "." + suffix, std::string(suffix) == "g_idx" ? t->to(torch::kInt32) : t->to(torch::kFloat32));
    }
    ojson entry = {{"bits", q.spec.bits},
                   {"group_size", q.spec.group_size},
                   {"symmetric", q.spec.symmetric},
                   {"in_features", q.in_features},
                   {"out_features", q.out_features}};
    if (holder) entry["transform_of"] = holder->name;
    if (auto it = provenance.linears.find(name); it != provenance.linears.end())
      write_linear_provenance(it->second, entry);
    linears[name] = entry;
  }
}

std::map<std::string, quant::QuantizedLinear> read_quantized_linears(const ojson& linears,
                                                                     const io::SafetensorsSet& st,
                                                                     const std::string& meta_file,
                                                                     std::set<std::string>& used) {
  std::map<std::string, quant::QuantizedLinear> records;
  std::map<std::string, std::string> transform_of;  // linear -> the linear holding its transform
  auto take = [&](const std::string& name, bool required, bool mapped = false) -> torch::Tensor {
    const auto* file = st.file_of(name);
    if (!file) {
      if (required) throw FormatError(st.source(), "tensor '" + name + "'", "missing");
      return {};
    }
    used.insert(name);
    return mapped ? file->view(name) : file->load(name);
  };
  for (const auto& [name, e] : linears.items()) {
    const std::string field = "linears." + name;
    auto integer = [&, &e = e](const char* key) {
      if (!e.is_object() || !e.contains(key) || !e[key].is_number_integer())
        throw FormatError(meta_file, field + "." + key, "missing or not an integer");
      return e[key].get<int64_t>();
    };
    quant::QuantizedLinear q;
    q.spec.bits = static_cast<int>(integer("bits"));
    q.spec.group_size = integer("group_size");
    if (e.contains("symmetric") && !e["symmetric"].is_boolean())
      throw FormatError(meta_file, field + ".symmetric", "not true or false");
    q.spec.symmetric = e.value("symmetric", false);
    q.in_features = integer("in_features");
    q.out_features = integer("out_features");
    if (q.spec.bits < 2 || q.spec.bits > 8) throw FormatError(meta_file, field + ".bits", "outside 2..8");
    if (q.in_features <= 0 || q.out_features <= 0)
      throw FormatError(meta_file, field, "in_features and out_features must be positive");
    // Kept packed and mapped: a linear's codes cost memory only while its weight is built.
    q.packed_codes = take(name + ".qweight", true, true);
    if (q.packed_codes.scalar_type() != torch::kInt32 ||
        q.packed_codes.sizes() != c10::IntArrayRef({q.out_features, quant::packed_words(q.in_features, q.spec.bits)}))
      throw FormatError(st.file_of(name + ".qweight")->path().string(), "tensor '" + name + ".qweight'",
                        "not int32 [" + std::to_string(q.out_features) + ", " +
                            std::to_string(quant::packed_words(q.in_features, q.spec.bits)) + "]");
    q.scales = take(name + ".scales", true).to(torch::kFloat32);
    q.zeros = take(name + ".qzeros", true).to(torch::kInt32);
    for (const char* suffix : kOptional) {
      auto t = take(name + "." + suffix, false);
      if (t.defined())
        *optional_field(q, suffix) = std::string(suffix) == "g_idx" ? t.to(torch::kInt32) : t.to(torch::kFloat32);
    }
    if (e.contains("transform_of")) {
      if (!e["transform_of"].is_string()) throw FormatError(meta_file, field + ".transform_of", "not a linear's name");
      if (q.transform.defined())
        throw FormatError(meta_file, field + ".transform_of", "set, but " + name + ".transform is stored too");
      transform_of[name] = e["transform_of"].get<std::string>();
    }
    records[name] = std::move(q);
  }
  for (const auto& [name, holder] : transform_of) {
    const auto it = records.find(holder);
    if (it == records.end() || transform_of.count(holder) || !it->second.transform.defined())
      throw FormatError(meta_file, "linears." + name + ".transform_of",
                        "'" + holder + "' is not a linear that stores its transform");
    records[name].transform = it->second.transform;
  }
  for (auto& [name, q] : records) q.validate(st.source(), name);
  return records;
}

}  // namespace qs::checkpoint
