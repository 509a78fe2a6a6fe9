#include "core/methods/method_registry.h"

#include <memory>

#include "core/error.h"
#include "core/methods/affinequant.h"
#include "core/methods/awq.h"
#include "core/methods/gptq.h"
#include "core/methods/lqer.h"
#include "core/methods/lsi.h"
#include "core/methods/lwc.h"
#include "core/methods/rilq.h"
#include "core/methods/rtn.h"

namespace qs::methods {
namespace {

std::vector<std::unique_ptr<quant::Method>> make_methods() {
  std::vector<std::unique_ptr<quant::Method>> v;
  v.push_back(std::make_unique<RtnMethod>());
  v.push_back(std::make_unique<GptqMethod>());
  v.push_back(std::make_unique<AwqMethod>());
  v.push_back(std::make_unique<LwcMethod>());
  v.push_back(std::make_unique<LsiMethod>());
  v.push_back(std::make_unique<LqerMethod>());
  v.push_back(std::make_unique<AffineQuantMethod>());
  return v;
}

std::vector<std::unique_ptr<quant::Refinement>> make_refinements() {
  std::vector<std::unique_ptr<quant::Refinement>> v;
  v.push_back(std::make_unique<RilqRefinement>());
  return v;
}

template <typename T>
std::vector<const T*> view_of(const std::vector<std::unique_ptr<T>>& owned) {
  std::vector<const T*> v;
  for (const auto& m : owned) v.push_back(m.get());
  return v;
}

template <typename T>
const T* find_in(const std::vector<const T*>& all, const std::string& name) {
  for (const auto* m : all)
    if (m->name() == name) return m;
  return nullptr;
}

template <typename T>
std::string names_of(const std::vector<const T*>& all) {
  std::string known;
  for (const auto* m : all) known += (known.empty() ? "" : ", ") + m->name();
  return known;
}

}  // namespace

const std::vector<const quant::Method*>& all_methods() {
  static const auto owned = make_methods();
  static const auto view = view_of(owned);
  return view;
}

const quant::Method* find_method(const std::string& name) { return find_in(all_methods(), name); }

const quant::Method& method_or_throw(const std::string& name, const std::string& source) {
  if (const auto* m = find_method(name)) return *m;
  throw ConfigError(source, "method",
                    "unknown method '" + name + "' (known: " + names_of(all_methods()) + ", fp16)");
}

const std::vector<const quant::Refinement*>& all_refinements() {
  static const auto owned = make_refinements();
  static const auto view = view_of(owned);
  return view;
}

const quant::Refinement* find_refinement(const std::string& name) { return find_in(all_refinements(), name); }

const quant::Refinement& refinement_or_throw(const std::string& name, const std::string& source) {
  if (const auto* r = find_refinement(name)) return *r;
  throw ConfigError(source, "then",
                    "unknown refinement '" + name + "' (known: " + names_of(all_refinements()) + ", none)");
}

}  // namespace qs::methods
