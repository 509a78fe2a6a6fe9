#pragma once
// Every method and refinement QuantScope offers. Adding one is one line in
// method_registry.cpp.

#include <string>
#include <vector>

#include "core/quant/method.h"
#include "core/quant/refinement.h"

namespace qs::methods {

// Methods in menu order.
const std::vector<const quant::Method*>& all_methods();
// nullptr when there is no method of that name.
const quant::Method* find_method(const std::string& name);
// Like find_method, but throws qs::ConfigError naming `source` and listing the known names.
const quant::Method& method_or_throw(const std::string& name, const std::string& source);

// The refinements a plan can compose after its methods ("then").
const std::vector<const quant::Refinement*>& all_refinements();
const quant::Refinement* find_refinement(const std::string& name);
const quant::Refinement& refinement_or_throw(const std::string& name, const std::string& source);

}  // namespace qs::methods
