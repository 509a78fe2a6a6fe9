#include "core/model/architecture.h"

#include <array>

#include "core/model/families/families.h"

namespace qs::model {
namespace {

const std::array<const Architecture*, 10> kArchitectures = {
    &families::kGemma2, &families::kGemma3Text, &families::kLlama,    &families::kMistral, &families::kMixtral,
    &families::kPhi3,   &families::kQwen2,      &families::kQwen2Moe, &families::kQwen3,   &families::kQwen3Moe,
};

}  // namespace

const Architecture* find_architecture(std::string_view model_type) {
  for (const auto* a : kArchitectures)
    if (a->model_type == model_type) return a;
  return nullptr;
}

std::string supported_architectures() {
  std::string out;
  for (const auto* a : kArchitectures) out += (out.empty() ? "" : ", ") + std::string(a->model_type);
  return out;
}

std::string stored_name(const ModelConfig& c, const std::string& logical) {
  const auto* arch = find_architecture(c.architecture);
  return arch && arch->stored_name ? arch->stored_name(logical) : logical;
}

void set_periodic_layer_types(const ConfigFields& f, const char* key, int64_t period, ModelConfig& c) {
  if (period <= 0) throw ConfigError(f.source(), f.field(key), "must be positive, found " + std::to_string(period));
  c.layer_types = periodic_layer_types(c.num_layers, period);
}

}  // namespace qs::model
