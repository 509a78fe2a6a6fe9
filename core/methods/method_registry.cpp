#include "core/methods/method_registry.h"

#include <memory>

#include "core/error.h"
#include "core/methods/awq.h"
#include "core/methods/gptq.h"
#include "core/methods/lqer.h"
#include "core/methods/lsi.h"
#include "core/methods/lwc.h"
#include "core/methods/rtn.h"

namespace qs::methods {
namespace {

std::vector<std::unique_ptr<quant::Method>> make_all() {
  std::vector<std::unique_ptr<quant::Method>> v;
  v.push_back(std::make_unique<RtnMethod>());
  v.push_back(std::make_unique<GptqMethod>());
  v.push_back(std::make_unique<AwqMethod>());
  v.push_back(std::make_unique<LwcMethod>());
  v.push_back(std::make_unique<LsiMethod>());
  v.push_back(std::make_unique<LqerMethod>());
  return v;
}

}  // namespace

const std::vector<const quant::Method*>& all_methods() {
  static const auto owned = make_all();
  static const auto view = [] {
    std::vector<const quant::Method*> v;
    for (const auto& m : owned) v.push_back(m.get());
    return v;
  }();
  return view;
}

const quant::Method* find_method(const std::string& name) {
  for (const auto* m : all_methods())
    if (m->name() == name) return m;
  return nullptr;
}

const quant::Method& method_or_throw(const std::string& name, const std::string& source) {
  if (const auto* m = find_method(name)) return *m;
  std::string known;
  for (const auto* m : all_methods()) known += (known.empty() ? "" : ", ") + m->name();
  throw ConfigError(source, "method", "unknown method '" + name + "' (known: " + known + ", fp16)");
}

}  // namespace qs::methods
