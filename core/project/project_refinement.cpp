#include "core/project/project_refinement.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/quant/param_json.h"

namespace qs::project {

namespace {

using ojson = nlohmann::ordered_json;

ojson plan_of(const Project& p) {
  const auto plan = ojson::parse(p.settings.plan_json, nullptr, false);
  if (plan.is_discarded() || !plan.is_object())
    throw FormatError("project", "/settings/plan_json", "is not a JSON object");
  return plan;
}

// The refinement the plan names ("" when none).
std::string refinement_of(const Project& project) {
  const auto plan = plan_of(project);
  auto then_of = [](const ojson& o) -> std::string {
    if (!o.is_object() || !o.contains("then")) return {};
    const auto& t = o["then"];
    if (t.is_string()) return t.get<std::string>();
    if (t.is_object() && t.contains("method") && t["method"].is_string()) return t["method"].get<std::string>();
    return {};
  };
  if (plan.contains("default"))
    if (auto t = then_of(plan["default"]); !t.empty()) return t;
  if (plan.contains("layers") && plan["layers"].is_object())
    for (const auto& rule : plan["layers"])
      if (auto t = then_of(rule); !t.empty()) return t;
  return {};
}

}  // namespace

void check_refinable(const Project& project) {
  if (const auto before = refinement_of(project); !before.empty())
    throw ArgumentError("this model was refined by " + before +
                        " already and a project records one refinement; refine the model before it");
}

Project refined_project(const Project& base,
                        const std::map<std::string, std::shared_ptr<const quant::QuantizedLinear>>& refined,
                        const std::string& refinement, const quant::MethodParams& params) {
  check_refinable(base);
  Project p = base;
  for (const auto& [name, record] : refined) {
    auto it = std::find_if(p.layers.begin(), p.layers.end(), [&name = name](const LayerEntry& e) { return e.name == name; });
    if (it == p.layers.end() || !it->record) throw FormatError("project", "/layers/" + name, "has no quantized record");
    it->record = record;
  }
  auto plan = plan_of(base);
  plan["default"]["then"] = {{"method", refinement}, {"params", quant::params_to_json<ojson>(params.values())}};
  p.settings.plan_json = plan.dump();
  return p;
}

}  // namespace qs::project
