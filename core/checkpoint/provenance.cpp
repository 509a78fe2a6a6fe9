#include "core/checkpoint/provenance.h"

#include <limits>
#include <optional>

#include "core/checkpoint/quantscope_checkpoint.h"
#include "core/error.h"
#include "core/io/file_fingerprint.h"
#include "core/io/safetensors.h"
#include "core/io/small_files.h"
#include "core/quant/param_json.h"

namespace qs::checkpoint {
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

constexpr const char* kProvenanceFormat = "quantscope-provenance";
constexpr const char* kInputScaleSuffix = ".input_scale";

ojson run_object(const std::string& run_json) {
  try {
    return ojson::parse(run_json);
  } catch (const nlohmann::json::exception& e) {
    throw ArgumentError(std::string("provenance: run_json is not JSON: ") + e.what());
  }
}

std::optional<LinearProvenance> linear_provenance(const ojson& entry, const std::string& file,
                                                  const std::string& field) {
  if (!entry.is_object() || !entry.contains("method")) return std::nullopt;
  if (!entry["method"].is_string()) throw FormatError(file, field + ".method", "not a string");
  LinearProvenance p;
  p.method = entry["method"].get<std::string>();
  if (entry.contains("params")) {
    if (!entry["params"].is_object()) throw FormatError(file, field + ".params", "not an object");
    for (const auto& [k, v] : entry["params"].items()) {
      auto value = quant::param_from_json(v);
      if (!value) throw FormatError(file, field + ".params." + k, "not a boolean, number or string");
      p.params[k] = *value;
    }
  }
  if (entry.contains("metrics")) {
    const auto& m = entry["metrics"];
    if (!m.is_object()) throw FormatError(file, field + ".metrics", "not an object");
    for (auto [key, slot] : {std::pair{"weight_mse", &p.weight_mse}, std::pair{"output_rel_mse", &p.output_rel_mse},
                             std::pair{"seconds", &p.seconds}}) {
      if (!m.contains(key)) continue;
      // A metric that came out NaN or infinite is written as null.
      if (m[key].is_null()) {
        *slot = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      if (!m[key].is_number()) throw FormatError(file, field + ".metrics." + key, "neither a number nor null");
      *slot = m[key].get<double>();
    }
  }
  return p;
}

struct Problem {
  std::string path;    // what the message is about
  std::string detail;  // what is wrong with it
};

std::optional<Problem> problem_of(const std::string& label, const Provenance& recorded) {
  if (recorded.source_model.empty()) return Problem{label, "it does not record the FP model it was quantized from"};
  const std::string path = recorded.source_model.string();
  std::error_code ec;
  if (!fs::exists(recorded.source_model, ec))
    return Problem{path, "the FP model " + label + " was quantized from is not there"};
  if (recorded.source_fingerprint.empty()) return std::nullopt;
  std::string now;
  try {
    now = io::file_fingerprint(recorded.source_model);
  } catch (const IoError& e) {
    return Problem{path, std::string("cannot be read: ") + e.what()};
  }
  if (now == recorded.source_fingerprint) return std::nullopt;
  return Problem{path, "the FP model " + label + " was quantized from changed since (fingerprint " +
                           recorded.source_fingerprint + ", now " + now + ")"};
}

// The scales file a provenance names, beside it. Only a plain file name is
// accepted, so a hostile record cannot point elsewhere.
std::map<std::string, torch::Tensor> read_input_scales(const ojson& doc, const fs::path& file) {
  std::map<std::string, torch::Tensor> scales;
  if (!doc.contains("input_scales")) return scales;
  const auto& v = doc["input_scales"];
  if (!v.is_string() || v.get<std::string>().empty() || fs::path(v.get<std::string>()).has_parent_path() ||
      v.get<std::string>() == "..")
    throw FormatError(file.string(), "input_scales", "not a file name beside it");
  const fs::path path = file.parent_path() / v.get<std::string>();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw IoError(path.string(), "the input scales " + file.string() + " names are not there");
  const io::SafetensorsFile st(path);
  for (const auto& e : st.entries()) {
    const auto n = e.name.size(), k = std::string(kInputScaleSuffix).size();
    if (n <= k || e.name.compare(n - k, k, kInputScaleSuffix) != 0)
      throw FormatError(path.string(), e.name, "not a <module>.input_scale tensor");
    auto t = st.load(e.name);
    if (t.dim() != 1 || !t.is_floating_point() || t.numel() == 0)
      throw FormatError(path.string(), e.name, "expected a float vector");
    t = t.to(torch::kFloat32);
    if (!(t.isfinite() & (t > 0)).all().item<bool>())
      throw FormatError(path.string(), e.name, "a scale is not finite and positive");
    scales[e.name.substr(0, n - k)] = t;
  }
  return scales;
}

}  // namespace

std::string fingerprint_to_record(const Provenance& p) {
  std::error_code ec;
  if (!p.source_fingerprint.empty() || p.source_model.empty() || !fs::exists(p.source_model, ec))
    return p.source_fingerprint;
  try {
    return io::file_fingerprint(p.source_model);
  } catch (const IoError&) {
    return {};  // an unreadable FP model is reported when it is used, not when a checkpoint is written
  }
}

std::string recorded_path(const fs::path& p) {
  return p.empty() ? std::string() : fs::absolute(p).lexically_normal().string();
}

void write_linear_provenance(const LinearProvenance& p, ojson& entry) {
  entry["method"] = p.method;
  entry["params"] = quant::params_to_json<ojson>(p.params);
  entry["metrics"] = {{"weight_mse", p.weight_mse}, {"output_rel_mse", p.output_rel_mse}, {"seconds", p.seconds}};
}

Provenance provenance_fields(const ojson& doc, const std::string& file) {
  Provenance p;
  if (doc.contains("source_model")) {
    if (!doc["source_model"].is_string()) throw FormatError(file, "source_model", "not a string");
    p.source_model = doc["source_model"].get<std::string>();
  }
  if (doc.contains("source_fingerprint")) {
    if (!doc["source_fingerprint"].is_string()) throw FormatError(file, "source_fingerprint", "not a string");
    p.source_fingerprint = doc["source_fingerprint"].get<std::string>();
  }
  if (doc.contains("run")) {
    if (!doc["run"].is_object()) throw FormatError(file, "run", "not an object");
    p.run_json = doc["run"].dump();
  }
  if (doc.contains("linears")) {
    if (!doc["linears"].is_object()) throw FormatError(file, "linears", "not an object");
    for (const auto& [name, e] : doc["linears"].items())
      if (auto l = linear_provenance(e, file, "linears." + name)) p.linears[name] = std::move(*l);
  }
  return p;
}

void write_provenance(const Provenance& p, const fs::path& dir) {
  ojson linears = ojson::object();
  for (const auto& [name, l] : p.linears) write_linear_provenance(l, linears[name]);
  ojson doc = {{"format", kProvenanceFormat},
               {"format_version", kProvenanceFormatVersion},
               {"source_model", recorded_path(p.source_model)},
               {"source_fingerprint", fingerprint_to_record(p)},
               {"linears", linears},
               {"run", run_object(p.run_json)}};
  if (!p.checkpoint_file.empty())
    doc["checkpoint"] = {{"file", p.checkpoint_file}, {"fingerprint", io::file_fingerprint(dir / p.checkpoint_file)}};
  std::error_code ec;
  if (p.input_scales.empty()) {
    fs::remove(dir / kProvenanceTensorsFile, ec);  // an earlier export's into the same directory
  } else {
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& [name, s] : p.input_scales)
      tensors.emplace_back(name + kInputScaleSuffix, s.to(torch::kCPU, torch::kFloat32));
    io::write_safetensors(dir / kProvenanceTensorsFile, tensors);
    doc["input_scales"] = kProvenanceTensorsFile;
  }
  io::write_file_atomically(dir / kProvenanceFile, doc.dump(2) + "\n");
}

Provenance read_provenance(const fs::path& path) {
  std::error_code ec;
  const bool dir = fs::is_directory(path, ec);
  if (dir && is_quantscope_checkpoint(path)) return read_quantscope_provenance(path);
  // A GGUF export is opened as its model.gguf.
  const fs::path file = (dir ? path : path.parent_path()) / kProvenanceFile;
  if (!fs::is_regular_file(file, ec)) return {};
  const auto doc = io::read_versioned_json(file, kProvenanceFormat, kProvenanceFormatVersion);
  std::string checkpoint_file;
  if (doc.contains("checkpoint")) {
    const auto& c = doc["checkpoint"];
    if (!c.is_object() || !c.contains("file") || !c["file"].is_string() || !c.contains("fingerprint") ||
        !c["fingerprint"].is_string())
      throw FormatError(file.string(), "checkpoint", "expected {\"file\", \"fingerprint\"}");
    checkpoint_file = c["file"].get<std::string>();
    // Another file in the export's directory, or model.gguf replaced since, is not what it describes.
    if (!dir && (checkpoint_file != path.filename().string() ||
                 c["fingerprint"].get<std::string>() != io::file_fingerprint(path)))
      return {};
  }
  auto p = provenance_fields(doc, file.string());
  p.checkpoint_file = checkpoint_file;
  p.input_scales = read_input_scales(doc, file);
  return p;
}

std::string recorded_fp_model_problem(const std::string& label, const Provenance& recorded) {
  const auto p = problem_of(label, recorded);
  return p ? p->path + ": " + p->detail : std::string();
}

fs::path fp_model_of(const std::string& label, const Provenance& recorded, const fs::path& named,
                     const std::string& hint) {
  std::error_code ec;
  if (!named.empty()) {
    if (!fs::exists(named, ec)) throw IoError(named.string(), "the FP model named for " + label + " is not there");
    return named;
  }
  if (const auto p = problem_of(label, recorded)) throw IoError(p->path, p->detail + "; " + hint);
  return recorded.source_model;
}

}  // namespace qs::checkpoint
