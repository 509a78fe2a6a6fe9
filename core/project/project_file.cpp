#include "core/project/project_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/model/transform_sharing.h"
#include "core/project/hdf5_io.h"
#include "core/quant/packing.h"

namespace qs::project {
namespace {

namespace fs = std::filesystem;
using h5::Node;

constexpr const char* kWriter = "QuantScope";

// Record tensors stored as float32 beside the codes, with their expected
// shapes given the layer's sizes (-1: any).
struct Optional {
  const char* name;
  torch::Tensor quant::QuantizedLinear::*member;
};
constexpr Optional kOptionalFloat[] = {{"bias", &quant::QuantizedLinear::bias},
                                       {"input_scale", &quant::QuantizedLinear::input_scale},
                                       {"transform", &quant::QuantizedLinear::transform},
                                       {"lora_a", &quant::QuantizedLinear::lora_a},
                                       {"lora_b", &quant::QuantizedLinear::lora_b}};

std::vector<int64_t> optional_shape(const std::string& name, int64_t out, int64_t in) {
  if (name == "bias") return {out};
  if (name == "input_scale") return {in};
  if (name == "transform") return {in, in};
  if (name == "lora_a") return {-1, in};
  return {out, -1};
}

torch::Tensor cpu(const torch::Tensor& t, torch::ScalarType dtype) { return t.to(torch::kCPU, dtype).contiguous(); }

void write_params(const Node& g, const std::map<std::string, quant::ParamValue>& params) {
  for (const auto& [k, v] : params) {
    if (auto b = std::get_if<bool>(&v))
      g.set_bool(k, *b);
    else if (auto i = std::get_if<int64_t>(&v))
      g.set(k, *i);
    else if (auto d = std::get_if<double>(&v))
      g.set(k, *d);
    else
      g.set(k, std::get<std::string>(v));
  }
}

std::map<std::string, quant::ParamValue> read_params(const Node& g) {
  std::map<std::string, quant::ParamValue> out;
  for (const auto& k : g.attrs()) {
    switch (g.attr_kind(k)) {
      case Node::AttrKind::Bool:
        out[k] = g.get_bool(k);
        break;
      case Node::AttrKind::Integer:
        out[k] = g.get_int(k);
        break;
      case Node::AttrKind::Float:
        out[k] = g.get_double(k);
        break;
      case Node::AttrKind::String:
        out[k] = g.get_string(k);
        break;
      case Node::AttrKind::Other:
        throw FormatError(g.file(), g.path() + "@" + k, "unsupported parameter type");
    }
  }
  return out;
}

void write_spec(const Node& g, const std::string& method, const quant::QuantSpec& spec) {
  g.set("method", method);
  g.set("bits", int64_t{spec.bits});
  g.set("group_size", spec.group_size);
  g.set_bool("symmetric", spec.symmetric);
  g.set("clip_ratio", spec.clip_ratio);
}

quant::QuantSpec read_spec(const Node& g) {
  quant::QuantSpec spec;
  const int64_t bits = g.get_int("bits");
  if (bits < 2 || bits > 8) throw FormatError(g.file(), g.path() + "@bits", "outside 2..8");
  spec.bits = static_cast<int>(bits);
  spec.group_size = g.get_int("group_size");
  if (spec.group_size < 0) throw FormatError(g.file(), g.path() + "@group_size", "negative");
  spec.symmetric = g.get_bool("symmetric");
  spec.clip_ratio = g.get_double("clip_ratio");
  if (!(spec.clip_ratio > 0.0 && spec.clip_ratio <= 1.0))
    throw FormatError(g.file(), g.path() + "@clip_ratio", "outside (0, 1]");
  return spec;
}

// A transform several linears share (AffineQuant's norm matrices) is written
// once and linked from the others; read back, they share one tensor.
void write_record(const Node& layer, const quant::QuantizedLinear& q, model::TransformSharing& sharing) {
  const auto g = layer.create_group("quantized");
  write_spec(g, "", q.spec);
  g.set("in_features", q.in_features);
  g.set("out_features", q.out_features);
  g.write("qweight", q.packed());
  g.write("scales", cpu(q.scales, torch::kFloat32));
  g.write("zeros", cpu(q.zeros, torch::kInt32));
  if (q.g_idx.defined()) g.write("g_idx", cpu(q.g_idx, torch::kInt32));
  for (const auto& o : kOptionalFloat) {
    const auto& t = q.*o.member;
    if (!t.defined()) continue;
    const auto holder =
        o.member == &quant::QuantizedLinear::transform ? sharing.holder_of(t, g.child_path(o.name)) : std::nullopt;
    if (holder)
      g.link(o.name, holder->name);
    else
      g.write(o.name, cpu(t, torch::kFloat32));
  }
}

std::shared_ptr<const quant::QuantizedLinear> read_record(const Node& layer, const std::string& name,
                                                          model::TransformSharing& sharing) {
  const auto g = layer.group("quantized");
  auto q = std::make_shared<quant::QuantizedLinear>();
  q->spec = read_spec(g);
  q->in_features = g.get_int("in_features");
  q->out_features = g.get_int("out_features");
  constexpr int64_t kMaxDim = int64_t{1} << 22;
  if (q->in_features <= 0 || q->in_features > kMaxDim || q->out_features <= 0 || q->out_features > kMaxDim)
    throw FormatError(g.file(), g.path() + "@in_features/out_features", "implausible layer size");
  const int64_t in = q->in_features, out = q->out_features;
  q->spec.group_size = q->spec.effective_group(in);
  const int64_t groups = q->spec.num_groups(in);
  q->packed_codes = g.read("qweight", torch::kInt32, {out, quant::packed_words(in, q->spec.bits)});
  q->scales = g.read("scales", torch::kFloat32, {out, groups});
  q->zeros = g.read("zeros", torch::kInt32, {out, groups});
  if (g.has("g_idx")) q->g_idx = g.read("g_idx", torch::kInt32, {in});
  for (const auto& o : kOptionalFloat)
    if (g.has(o.name)) (*q).*o.member = g.read(o.name, torch::kFloat32, optional_shape(o.name, out, in));
  if (q->transform.defined())
    if (const auto holder = sharing.holder_of(q->transform, name)) q->transform = holder->transform;
  q->validate(g.file(), g.path() + " (" + name + ")");
  return q;
}

void write_columns(const Node& g, const std::vector<std::pair<const char*, torch::Tensor>>& columns) {
  for (const auto& [name, t] : columns) g.write(name, t);
}

void write_results(const Node& root, const Results& r) {
  const auto g = root.create_group("results");
  g.set("ppl_fp", r.ppl_fp);
  g.set("ppl_quantized", r.ppl_quantized);
  auto curve = torch::empty({static_cast<int64_t>(r.curve.size()), 2}, torch::kFloat64);
  for (size_t i = 0; i < r.curve.size(); ++i) {
    curve[static_cast<int64_t>(i)][0] = static_cast<double>(r.curve[i].blocks);
    curve[static_cast<int64_t>(i)][1] = r.curve[i].ppl;
  }
  g.write("perplexity_curve", curve);

  auto column = [](size_t n, auto get, torch::ScalarType t) {
    auto c = torch::empty({static_cast<int64_t>(n)}, t);
    for (size_t i = 0; i < n; ++i) c[static_cast<int64_t>(i)] = get(i);
    return c;
  };
  const auto& b = r.blocks;
  write_columns(g.create_group("blocks"),
                {{"layer", column(
                               b.size(), [&](size_t i) { return b[i].layer; }, torch::kInt64)},
                 {"output_mse", column(
                                    b.size(), [&](size_t i) { return b[i].output_mse; }, torch::kFloat64)},
                 {"output_rel_mse", column(
                                        b.size(), [&](size_t i) { return b[i].output_rel_mse; }, torch::kFloat64)},
                 {"fp_rel_mse", column(
                                    b.size(), [&](size_t i) { return b[i].fp_rel_mse; }, torch::kFloat64)},
                 {"seconds", column(
                                 b.size(), [&](size_t i) { return b[i].seconds; }, torch::kFloat64)}});
  const auto& k = r.kernels;
  write_columns(g.create_group("kernels"),
                {{"batch", column(
                               k.size(), [&](size_t i) { return k[i].batch; }, torch::kInt64)},
                 {"out_features", column(
                                      k.size(), [&](size_t i) { return k[i].out_features; }, torch::kInt64)},
                 {"in_features", column(
                                     k.size(), [&](size_t i) { return k[i].in_features; }, torch::kInt64)},
                 {"bits", column(
                              k.size(), [&](size_t i) { return k[i].bits; }, torch::kInt64)},
                 {"group_size", column(
                                    k.size(), [&](size_t i) { return k[i].group_size; }, torch::kInt64)},
                 {"fp16_us", column(
                                 k.size(), [&](size_t i) { return k[i].fp16_us; }, torch::kFloat64)},
                 {"packed_us", column(
                                   k.size(), [&](size_t i) { return k[i].packed_us; }, torch::kFloat64)},
                 {"gbps", column(
                              k.size(), [&](size_t i) { return k[i].gbps; }, torch::kFloat64)}});
}

Results read_results(const Node& root) {
  const auto g = root.group("results");
  Results r;
  r.ppl_fp = g.get_double("ppl_fp");
  r.ppl_quantized = g.get_double("ppl_quantized");
  const auto curve = g.read("perplexity_curve", torch::kFloat64, {-1, 2});
  for (int64_t i = 0; i < curve.size(0); ++i)
    r.curve.push_back({static_cast<int64_t>(curve[i][0].item<double>()), curve[i][1].item<double>()});

  // Columns of one table must agree in length.
  auto columns = [](const Node& t, std::initializer_list<std::pair<const char*, torch::ScalarType>> names) {
    std::map<std::string, torch::Tensor> out;
    int64_t n = -1;
    for (const auto& [name, type] : names) {
      out[name] = t.read(name, type, {n});
      n = out[name].size(0);
    }
    return std::make_pair(out, n);
  };
  const auto [b, nb] = columns(g.group("blocks"), {{"layer", torch::kInt64},
                                                   {"output_mse", torch::kFloat64},
                                                   {"output_rel_mse", torch::kFloat64},
                                                   {"seconds", torch::kFloat64}});
  // Projects saved before the column existed measured no FP trajectory.
  const auto blocks = g.group("blocks");
  const auto fp_rel = blocks.has("fp_rel_mse")
                          ? blocks.read("fp_rel_mse", torch::kFloat64, {nb})
                          : torch::full({nb}, std::numeric_limits<double>::quiet_NaN(), torch::kFloat64);
  for (int64_t i = 0; i < nb; ++i)
    r.blocks.push_back({b.at("layer")[i].item<int64_t>(), b.at("output_mse")[i].item<double>(),
                        b.at("output_rel_mse")[i].item<double>(), b.at("seconds")[i].item<double>(),
                        fp_rel[i].item<double>()});
  const auto [k, nk] = columns(g.group("kernels"), {{"batch", torch::kInt64},
                                                    {"out_features", torch::kInt64},
                                                    {"in_features", torch::kInt64},
                                                    {"bits", torch::kInt64},
                                                    {"group_size", torch::kInt64},
                                                    {"fp16_us", torch::kFloat64},
                                                    {"packed_us", torch::kFloat64},
                                                    {"gbps", torch::kFloat64}});
  for (int64_t i = 0; i < nk; ++i)
    r.kernels.push_back({k.at("batch")[i].item<int64_t>(), k.at("out_features")[i].item<int64_t>(),
                         k.at("in_features")[i].item<int64_t>(), k.at("bits")[i].item<int64_t>(),
                         k.at("group_size")[i].item<int64_t>(), k.at("fp16_us")[i].item<double>(),
                         k.at("packed_us")[i].item<double>(), k.at("gbps")[i].item<double>()});
  return r;
}

void write_project(const Project& p, const std::string& file, const SaveProgress& progress) {
  auto root = Node::create_file(file);
  {
    root.set("schema_version", kSchemaVersion);
    root.set("writer", kWriter);
    const auto model = root.create_group("model");
    model.set("path", p.model.path);
    model.set("fingerprint", p.model.fingerprint);
    model.set("architecture", p.model.architecture);
    model.set("num_layers", p.model.num_layers);
    const auto modified = model.create_group("modified");
    for (const auto& [name, t] : p.modified_tensors) modified.write(name, cpu(t, torch::kFloat32));

    const auto& s = p.settings;
    const auto settings = root.create_group("settings");
    settings.set("calibration_text", s.calibration_text);
    settings.set("nsamples", s.nsamples);
    settings.set("seqlen", s.seqlen);
    settings.set("seed", s.seed);
    settings.set("eval_text", s.eval_text);
    settings.set("eval_protocol", s.eval_protocol);
    settings.set("eval_ctx", s.eval_ctx);
    settings.set("eval_limit", s.eval_limit);
    settings.set("device", s.device);
    settings.set("dtype", s.dtype);
    settings.set("plan_json", s.plan_json);

    const auto layers = root.create_group("layers");
    model::TransformSharing sharing;
    const auto total = static_cast<int64_t>(p.layers.size());
    for (int64_t i = 0; i < total; ++i) {
      const auto& e = p.layers[static_cast<size_t>(i)];
      if (e.name.empty() || e.name.find('/') != std::string::npos || e.name == "." || e.name == "..")
        throw ArgumentError("cannot store layer name '" + e.name + "' in " + file);
      const auto g = layers.create_group(e.name);
      write_spec(g, e.method, e.spec);
      if (e.has_metrics) {
        g.set("weight_mse", e.weight_mse);
        g.set("output_rel_mse", e.output_rel_mse);
        g.set("seconds", e.seconds);
      }
      write_params(g.create_group("params"), e.params);
      if (e.record) write_record(g, *e.record, sharing);
      const auto a = g.create_group("analysis");
      for (const auto& [key, t] : e.analyses) a.write(key, cpu(t, torch::kFloat32));
      if (progress) progress(i + 1, total);
    }
    write_results(root, p.results);
  }
  root.close_file();
}

void sync_file(const fs::path& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0 && !directory) throw IoError(path.string(), std::string("fsync failed: ") + std::strerror(errno));
}

}  // namespace

void save_project(const Project& project, const fs::path& file, const SaveProgress& progress) {
  io::remove_abandoned_temporaries(file);
  fs::path temp = file;
  temp += ".tmp-" + std::to_string(::getpid());
  try {
    write_project(project, temp.string(), progress);
    sync_file(temp, false);
  } catch (...) {
    std::error_code ec;
    fs::remove(temp, ec);
    throw;
  }
  std::error_code ec;
  fs::rename(temp, file, ec);
  if (ec) {
    fs::remove(temp, ec);
    throw IoError(file.string(), "cannot rename the temporary file into place: " + ec.message());
  }
  sync_file(file.parent_path().empty() ? fs::path(".") : file.parent_path(), true);
}

Project load_project(const fs::path& file) {
  const std::string f = file.string();
  if (!fs::exists(file)) throw IoError(f, "no such file");
  auto root = Node::open_file(f);
  Project p;
  {
    const int64_t version = root.get_int("schema_version");
    if (version > kSchemaVersion)
      throw FormatError(f, "/@schema_version",
                        std::to_string(version) + " was written by a newer QuantScope (this one reads up to " +
                            std::to_string(kSchemaVersion) + ")");
    if (version < 1) throw FormatError(f, "/@schema_version", "invalid version " + std::to_string(version));

    const auto model = root.group("model");
    p.model.path = model.get_string("path");
    p.model.fingerprint = model.get_string("fingerprint");
    p.model.architecture = model.get_string("architecture");
    p.model.num_layers = model.get_int("num_layers");
    const auto modified = model.group("modified");
    for (const auto& name : modified.children()) p.modified_tensors[name] = modified.read(name, torch::kFloat32, {});

    const auto settings = root.group("settings");
    auto& s = p.settings;
    s.calibration_text = settings.get_string("calibration_text");
    s.nsamples = settings.get_int("nsamples");
    s.seqlen = settings.get_int("seqlen");
    s.seed = settings.get_int("seed");
    s.eval_text = settings.get_string("eval_text");
    s.eval_protocol = settings.get_string("eval_protocol");
    s.eval_ctx = settings.get_int("eval_ctx");
    s.eval_limit = settings.get_int("eval_limit");
    s.device = settings.get_string("device");
    s.dtype = settings.get_string("dtype");
    s.plan_json = settings.get_string("plan_json");

    const auto layers = root.group("layers");
    model::TransformSharing sharing;
    for (const auto& name : layers.children()) {
      const auto g = layers.group(name);
      LayerEntry e;
      e.name = name;
      e.method = g.get_string("method");
      e.spec = read_spec(g);
      e.has_metrics = g.has_attr("weight_mse");
      if (e.has_metrics) {
        e.weight_mse = g.get_double("weight_mse");
        e.output_rel_mse = g.get_double("output_rel_mse");
        e.seconds = g.get_double("seconds");
      }
      e.params = read_params(g.group("params"));
      if (g.has("quantized")) e.record = read_record(g, name, sharing);
      const auto a = g.group("analysis");
      for (const auto& key : a.children()) e.analyses[key] = a.read(key, torch::kFloat32, {});
      p.layers.push_back(std::move(e));
    }
    p.results = read_results(root);
  }
  root.close_file();
  return p;
}

}  // namespace qs::project
