#include "core/quant/quant_spec.h"

#include "core/error.h"

namespace qs::quant {

void QuantSpec::validate(const std::string& source) const {
  if (bits < 2 || bits > 8)
    throw ConfigError(source, "bits", std::to_string(bits) + " is outside 2..8");
  if (group_size < 0)
    throw ConfigError(source, "group_size", std::to_string(group_size) + " is negative");
  if (!(clip_ratio > 0.0 && clip_ratio <= 1.0))
    throw ConfigError(source, "clip_ratio", std::to_string(clip_ratio) + " is outside (0, 1]");
}

std::string QuantSpec::label() const {
  std::string s = "W" + std::to_string(bits);
  if (group_size > 0) s += "g" + std::to_string(group_size);
  if (symmetric) s += "-sym";
  return s;
}

}  // namespace qs::quant
