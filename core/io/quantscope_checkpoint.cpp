#include "core/io/quantscope_checkpoint.h"

#include <array>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/io/checkpoint_files.h"
#include "core/io/hf_config.h"
#include "core/io/safetensors.h"
#include "core/model/transform_sharing.h"
#include "core/quant/packing.h"
#include "core/quant/quantized_linear.h"

namespace qs::io {
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

constexpr const char* kMetaFile = "quantscope.json";
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

std::string dtype_label(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat16:
      return "float16";
    case torch::kBFloat16:
      return "bfloat16";
    default:
      return "float32";
  }
}

}  // namespace

void save_quantscope_checkpoint(const model::Decoder& decoder, const Provenance& provenance, const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError(dir.string(), "cannot create the directory: " + ec.message());
  // A stale marker from an earlier save must not vouch for half-written files.
  fs::remove(dir / kMetaFile, ec);

  const auto& c = decoder.config();
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  auto add = [&](const std::string& name, const torch::Tensor& t) { tensors.emplace_back(name, t.to(torch::kCPU)); };
  add("model.embed_tokens.weight", decoder.embed_weight());
  add("model.norm.weight", decoder.final_norm_weight());
  if (!c.tie_word_embeddings) add("lm_head.weight", decoder.lm_head_weight());

  ojson linears = ojson::object();
  for (int64_t l = 0; l < decoder.num_layers(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", decoder.norm_weight(l, model::NormRole::Input));
    add(p + "post_attention_layernorm.weight", decoder.norm_weight(l, model::NormRole::PostAttention));
    model::TransformSharing sharing;
    for (auto role : model::kLinearRoles) {
      const auto name = model::linear_name(l, role);
      const auto op = decoder.linear(l, role);
      const auto* qop = dynamic_cast<const quant::QuantizedLinearOp*>(op.get());
      if (!qop) {
        add(name + ".weight", op->dense_weight());
        if (op->bias().defined()) add(name + ".bias", op->bias());
        continue;
      }
      auto q = qop->record()->to(torch::kCPU);
      add(name + ".qweight", quant::pack_codes(q.codes, q.spec.bits));
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
  write_file_atomically(dir / "config.json", hf_config_to_json(c, dtype_label(decoder.dtype())));
  write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}, {"quantscope", "1"}});
  if (!provenance.source_model.empty()) copy_tokenizer_files(provenance.source_model, dir);

  ojson meta = {{"format", "quantscope"},
                {"format_version", kQuantscopeFormatVersion},
                {"source_model", recorded_path(provenance.source_model)},
                {"source_fingerprint", fingerprint_to_record(provenance)},
                {"dtype", dtype_label(decoder.dtype())},
                {"linears", linears}};
  try {
    meta["run"] = ojson::parse(provenance.run_json);
  } catch (const nlohmann::json::parse_error& e) {
    throw ArgumentError(std::string("save_quantscope_checkpoint: run_json is not JSON: ") + e.what());
  }
  write_file_atomically(dir / kMetaFile, meta.dump(2) + "\n");
}

bool is_quantscope_checkpoint(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kMetaFile, ec);
}

namespace {

// quantscope.json, checked as far as every reader needs: format, version, linears.
ojson read_meta(const fs::path& meta_path) {
  ojson meta = read_versioned_json(meta_path, "quantscope", kQuantscopeFormatVersion);
  if (!meta.contains("linears") || !meta["linears"].is_object())
    throw FormatError(meta_path.string(), "linears", "missing or not an object");
  return meta;
}

}  // namespace

Provenance read_quantscope_provenance(const fs::path& dir) {
  return provenance_fields(read_meta(dir / kMetaFile), (dir / kMetaFile).string());
}

model::ModelWeights load_quantscope_checkpoint(const fs::path& dir) {
  const fs::path meta_path = dir / kMetaFile;
  const std::string meta_file = meta_path.string();
  const ojson meta = read_meta(meta_path);

  model::ModelWeights w;
  w.source = dir;
  w.source_format = "quantscope";
  w.config = read_hf_config(dir / "config.json");
  const fs::path st_path = dir / "model.safetensors";
  SafetensorsFile st(st_path);
  const std::string st_file = st_path.string();
  std::set<std::string> used;
  std::map<std::string, quant::QuantizedLinear> records;
  std::map<std::string, std::string> transform_of;  // linear -> the linear holding its transform
  auto take = [&](const std::string& name, bool required) -> torch::Tensor {
    if (!st.find(name)) {
      if (required) throw FormatError(st_file, "tensor '" + name + "'", "missing");
      return {};
    }
    used.insert(name);
    return st.load(name);
  };
  for (const auto& [name, e] : meta["linears"].items()) {
    const std::string field = "linears." + name;
    auto integer = [&](const char* key) {
      if (!e.is_object() || !e.contains(key) || !e[key].is_number_integer())
        throw FormatError(meta_file, field + "." + key, "missing or not an integer");
      return e[key].get<int64_t>();
    };
    quant::QuantizedLinear q;
    q.spec.bits = static_cast<int>(integer("bits"));
    q.spec.group_size = integer("group_size");
    q.spec.symmetric = e.value("symmetric", false);
    q.in_features = integer("in_features");
    q.out_features = integer("out_features");
    if (q.spec.bits < 2 || q.spec.bits > 8) throw FormatError(meta_file, field + ".bits", "outside 2..8");
    if (q.in_features <= 0 || q.out_features <= 0)
      throw FormatError(meta_file, field, "in_features and out_features must be positive");
    auto packed = take(name + ".qweight", true);
    try {
      q.codes = quant::unpack_codes(packed, q.spec.bits, q.in_features);
    } catch (const ArgumentError& err) {
      throw FormatError(st_file, "tensor '" + name + ".qweight'", err.what());
    }
    if (packed.size(0) != q.out_features)
      throw FormatError(st_file, "tensor '" + name + ".qweight'", "row count differs from out_features");
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
    records[name].transform = it->second.transform;  // one tensor, so the decoder computes T·x once
  }
  for (auto& [name, q] : records) {
    q.validate(st_file, name);
    w.source_dtypes[name + ".weight"] = "int" + std::to_string(q.spec.bits);
    w.quantized[name] = std::make_shared<const quant::QuantizedLinear>(std::move(q));
  }
  for (const auto& entry : st.entries()) {
    if (used.count(entry.name)) continue;
    const auto dot = entry.name.rfind('.');
    if (dot != std::string::npos && w.quantized.count(entry.name.substr(0, dot)) == 0 &&
        (entry.name.substr(dot) == ".qweight" || entry.name.substr(dot) == ".scales" ||
         entry.name.substr(dot) == ".qzeros"))
      throw FormatError(st_file, "tensor '" + entry.name + "'", "quantized tensor without an entry in " + meta_file);
    auto t = st.load(entry.name);
    w.source_dtypes[entry.name] = entry.dtype;
    w.tensors[entry.name] = t.is_floating_point() ? t.to(torch::kFloat32) : t;
  }
  return w;
}

}  // namespace qs::io
