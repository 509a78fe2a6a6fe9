#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "core/error.h"
#include "core/methods/method_registry.h"

namespace qs::cli {

namespace {

// One method or refinement: a line on stderr per parameter, a JSON entry.
template <typename M>
nlohmann::json describe(const M& m) {
  std::fprintf(stderr, "%s — %s\n", m.name().c_str(), m.description().c_str());
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : m.param_specs()) {
    std::string allowed;
    for (const auto& c : p.choices) allowed += (allowed.empty() ? " (" : "|") + c;
    if (!allowed.empty()) allowed += ")";
    std::fprintf(stderr, "    %-20s %-8s %s%s\n", p.name.c_str(), quant::to_string(p.default_value).c_str(),
                 p.help.c_str(), allowed.c_str());
    params.push_back({{"name", p.name}, {"default", quant::to_string(p.default_value)}, {"help", p.help}});
  }
  return {{"name", m.name()}, {"description", m.description()}, {"params", params}};
}

}  // namespace

int run_methods(const std::vector<std::string>& args) {
  if (!args.empty()) throw ArgumentError("usage: quantscope-cli methods");
  nlohmann::json methods = nlohmann::json::array(), refinements = nlohmann::json::array();
  for (const auto* m : methods::all_methods()) methods.push_back(describe(*m));
  std::fprintf(stderr, "\nrefinements, run over the whole quantized model after its method (--then NAME):\n");
  for (const auto* r : methods::all_refinements()) refinements.push_back(describe(*r));
  std::printf("%s\n", nlohmann::json{{"methods", methods}, {"refinements", refinements}}.dump().c_str());
  return 0;
}

}  // namespace qs::cli
