#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "core/error.h"
#include "core/methods/method_registry.h"

namespace qs::cli {

int run_methods(const std::vector<std::string>& args) {
  if (!args.empty()) throw ArgumentError("usage: quantscope-cli methods");
  nlohmann::json out = nlohmann::json::array();
  for (const auto* m : methods::all_methods()) {
    std::fprintf(stderr, "%s — %s\n", m->name().c_str(), m->description().c_str());
    nlohmann::json params = nlohmann::json::array();
    for (const auto& p : m->param_specs()) {
      std::string allowed;
      for (const auto& c : p.choices) allowed += (allowed.empty() ? " (" : "|") + c;
      if (!allowed.empty()) allowed += ")";
      std::fprintf(stderr, "    %-20s %-8s %s%s\n", p.name.c_str(), quant::to_string(p.default_value).c_str(),
                   p.help.c_str(), allowed.c_str());
      params.push_back({{"name", p.name}, {"default", quant::to_string(p.default_value)}, {"help", p.help}});
    }
    out.push_back({{"name", m->name()}, {"description", m->description()}, {"params", params}});
  }
  std::printf("%s\n", nlohmann::json{{"methods", out}}.dump().c_str());
  return 0;
}

}  // namespace qs::cli
