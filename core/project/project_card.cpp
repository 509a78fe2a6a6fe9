#include "core/project/project_card.h"

#include <nlohmann/json.hpp>

namespace qs::project {

std::string run_card_json(const Project& project, const std::string& project_path) {
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
  return run.dump();
}

}  // namespace qs::project
