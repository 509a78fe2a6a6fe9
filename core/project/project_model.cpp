#include "core/project/project_model.h"

#include "core/checkpoint/model_loader.h"
#include "core/error.h"
#include "core/io/file_fingerprint.h"

namespace qs::project {

namespace fs = std::filesystem;

ModelRef model_ref(const model::ModelWeights& weights, const std::string& path) {
  ModelRef r;
  r.path = fs::absolute(path).lexically_normal().string();
  r.fingerprint = io::file_fingerprint(path);
  r.architecture = weights.config.architecture;
  r.num_layers = weights.config.num_layers;
  return r;
}

ModelStatus check_model(const ModelRef& ref) {
  std::error_code ec;
  if (!fs::exists(ref.path, ec)) return {ModelState::Missing, "model " + ref.path + " is missing"};
  try {
    if (io::file_fingerprint(ref.path) != ref.fingerprint)
      return {ModelState::Changed, "model " + ref.path + " changed since the project was saved (fingerprint " +
                                       ref.fingerprint + " no longer matches)"};
  } catch (const Error& e) {
    return {ModelState::Missing, std::string("model cannot be read: ") + e.what()};
  }
  return {};
}

std::vector<LayerEntry> layer_entries(const pipeline::PipelineResult& result) {
  std::vector<LayerEntry> out;
  for (const auto& l : result.layers) {
    LayerEntry e;
    e.name = l.name;
    e.method = l.choice.method;
    e.spec = l.choice.spec;
    e.params = l.choice.params.values();
    e.record = l.record;
    e.has_metrics = l.record != nullptr;
    e.weight_mse = l.weight_mse;
    e.output_rel_mse = l.output_rel_mse;
    e.seconds = l.seconds;
    e.analyses = l.analyses;
    out.push_back(std::move(e));
  }
  return out;
}

Project project_of_run(const model::ModelWeights& weights, const std::string& path, const model::Decoder& decoder,
                       const pipeline::PipelineResult& result, Settings settings) {
  Project p;
  p.model = model_ref(weights, path);
  p.settings = std::move(settings);
  p.layers = layer_entries(result);
  p.modified_tensors = modified_tensors(weights, decoder);
  for (const auto& b : result.blocks)
    p.results.blocks.push_back({b.layer, b.output_mse, b.output_rel_mse, b.seconds, b.fp_rel_mse});
  return p;
}

std::map<std::string, torch::Tensor> modified_tensors(const model::ModelWeights& original,
                                                      const model::Decoder& decoder) {
  std::map<std::string, torch::Tensor> out;
  for (int64_t l = 0; l < decoder.num_layers(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const auto& [name, norm] : decoder.stored_block_tensors(l)) {
      const auto now = norm.to(torch::kCPU, torch::kFloat32);
      // Compared in the decoder's dtype: what the decoder computed from the
      // checkpoint is "unchanged".
      if (!torch::equal(now, original.at(name).to(decoder.dtype()).to(torch::kFloat32))) out[name] = now.contiguous();
    }
    // A linear kept in FP inside a group AWQ scaled carries the scale in its weight.
    for (const auto role : decoder.linear_roles(l)) {
      const auto op = decoder.linear(l, role);
      if (!dynamic_cast<const model::DenseLinear*>(op.get())) continue;
      const std::string name = model::linear_name(l, role) + ".weight";
      const auto now = op->dense_weight().to(torch::kCPU, torch::kFloat32);
      if (!torch::equal(now, original.at(name).to(decoder.dtype()).to(torch::kFloat32))) out[name] = now.contiguous();
    }
  }
  return out;
}

model::ModelWeights project_weights(const Project& project, const fs::path& project_file) {
  return with_project_layers(checkpoint::load_model(project.model.path), project, project_file.string());
}

model::ModelWeights with_project_layers(model::ModelWeights w, const Project& project, const std::string& f) {
  for (const auto& [name, t] : project.modified_tensors) {
    if (!w.has(name)) throw FormatError(f, "/model/modified/" + name, "the model has no such tensor");
    if (!t.sizes().equals(w.shape(name)))
      throw FormatError(f, "/model/modified/" + name, "shape differs from the model's tensor");
    w.set(name, t);
  }
  for (const auto& e : project.layers) {
    if (!e.record) continue;
    if (!w.has(e.name + ".weight") && !w.quantized.count(e.name))
      throw FormatError(f, "/layers/" + e.name, "the model has no such linear");
    w.quantized[e.name] = e.record;
    // The record stands for the linear now (ModelWeights keeps one of the two).
    w.erase(e.name + ".weight");
  }
  return w;
}

}  // namespace qs::project
