#include "core/project/project_provenance.h"

#include <nlohmann/json.hpp>

#include "core/pipeline/quant_plan.h"

namespace qs::project {

checkpoint::Provenance provenance_of(const Project& project, const std::string& project_path) {
  nlohmann::json run = {{"project", project_path},
                        {"calibration",
                         {{"text", project.settings.calibration_text},
                          {"nsamples", project.settings.nsamples},
                          {"seqlen", project.settings.seqlen},
                          {"seed", project.settings.seed}}}};
  if (!project.layers.empty()) {
    const auto& first = project.layers.front();
    run["method"] = first.method;
    run["bits"] = first.spec.bits;
    run["group"] = first.spec.group_size;
  }
  if (project.results.ppl_quantized == project.results.ppl_quantized)
    run["eval"] = {{"text", project.settings.eval_text},
                   {"protocol", project.settings.eval_protocol},
                   {"ctx", project.settings.eval_ctx},
                   {"ppl_fp", project.results.ppl_fp},
                   {"ppl", project.results.ppl_quantized}};
  checkpoint::Provenance p;
  p.source_model = project.model.path;
  p.source_fingerprint = project.model.fingerprint;
  p.run_json = run.dump();
  for (const auto& l : project.layers)
    if (l.record && l.method != pipeline::kKeepFp)
      p.linears[l.name] = {l.method, l.params, l.weight_mse, l.output_rel_mse, l.seconds};
  return p;
}

}  // namespace qs::project
