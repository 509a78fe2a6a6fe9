#include "core/project/checkpoint_project.h"

#include <nlohmann/json.hpp>

#include "core/io/run_record.h"
#include "core/model/decoder.h"
#include "core/pipeline/quant_plan.h"
#include "core/pipeline/refinement_run.h"
#include "core/project/project_model.h"

namespace qs::project {

namespace {

using ojson = nlohmann::ordered_json;

// The run's default grid and method, and its last refinement, as a plan.
std::string plan_of(const io::RunRecord& run) {
  ojson d = ojson::object();
  if (!run.method.empty()) d["method"] = run.method;
  if (run.bits) d["bits"] = *run.bits;
  if (run.group) d["group"] = *run.group;
  if (run.symmetric) d["symmetric"] = *run.symmetric;
  if (!run.refinements.empty()) {
    const auto& last = run.refinements.back();
    ojson then = {{"method", last.method}};
    if (last.params.is_object()) then["params"] = last.params;
    d["then"] = then;
  }
  return ojson{{"default", d}}.dump();
}

}  // namespace

Project project_of_checkpoint(const model::ModelWeights& checkpoint, const checkpoint::Provenance& provenance,
                              const model::ModelWeights& fp, const std::string& fp_path) {
  pipeline::check_same_shape(checkpoint.config, fp.config);
  Project p;
  p.model = model_ref(fp, fp_path);
  p.settings.plan_json = plan_of(io::run_record(provenance.run_json));
  for (int64_t l = 0; l < checkpoint.config.num_layers; ++l) {
    for (const auto role : model::block_linear_roles(checkpoint.config, l)) {
      LayerEntry e;
      e.name = model::linear_name(l, role);
      e.method = pipeline::kKeepFp;
      if (const auto q = checkpoint.quantized.find(e.name); q != checkpoint.quantized.end()) {
        e.record = q->second;
        e.spec = q->second->spec;
        e.method = "unknown";
        if (const auto m = provenance.linears.find(e.name); m != provenance.linears.end()) {
          e.method = m->second.method;
          e.params = m->second.params;
          e.has_metrics = true;
          e.weight_mse = m->second.weight_mse;
          e.output_rel_mse = m->second.output_rel_mse;
          e.seconds = m->second.seconds;
        }
      }
      p.layers.push_back(std::move(e));
    }
  }
  // Norms that absorbed AWQ scales, and a linear kept in FP inside a group AWQ scaled.
  for (const auto& [name, now] : checkpoint.tensors)
    if (fp.has(name) && !torch::equal(now.to(torch::kFloat32), fp.at(name).to(torch::kFloat32)))
      p.modified_tensors[name] = now.to(torch::kFloat32).contiguous();
  return p;
}

}  // namespace qs::project
