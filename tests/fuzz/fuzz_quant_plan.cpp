// A layers-config / preset JSON: per-layer rules and method parameters.
#include <string>

#include "core/pipeline/quant_plan.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return qs::fuzz::refused_or_read([&] {
    const auto defaults = qs::pipeline::QuantPlan::make_choice("rtn", {4, 128, true, 1.0}, "fuzz");
    const auto plan = qs::pipeline::QuantPlan::from_json(std::string(reinterpret_cast<const char*>(data), size),
                                                         defaults, "plan.json");
    plan.to_json();
  });
}
