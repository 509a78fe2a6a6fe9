#pragma once
// Every method QuantScope offers. Adding one is one line in method_registry.cpp.

#include <string>
#include <vector>

#include "core/quant/method.h"

namespace qs::methods {

// Methods in menu order.
const std::vector<const quant::Method*>& all_methods();
// nullptr when there is no method of that name.
const quant::Method* find_method(const std::string& name);
// Like find_method, but throws qs::ConfigError naming `source` and listing the known names.
const quant::Method& method_or_throw(const std::string& name, const std::string& source);

}  // namespace qs::methods
