#include "core/text/calibration_set.h"

#include <random>

#include "core/error.h"

namespace qs::text {

CalibrationSet sample_calibration(const std::vector<int32_t>& tokens, int64_t n, int64_t len, uint64_t seed,
                                  const std::string& source) {
  if (n <= 0 || len <= 0)
    throw ArgumentError("calibration: samples (" + std::to_string(n) + ") and sequence length (" +
                        std::to_string(len) + ") must be positive");
  const int64_t total = static_cast<int64_t>(tokens.size());
  if (total < len + 1)
    throw ArgumentError("calibration: " + source + " has " + std::to_string(total) + " tokens, fewer than one " +
                        std::to_string(len) + "-token window");
  // mt19937_64 is specified bit for bit; std::uniform_int_distribution is not,
  // so the starts are reduced by hand to stay the same on every platform.
  std::mt19937_64 rng(seed);
  const auto range = static_cast<uint64_t>(total - len);
  CalibrationSet c;
  c.ids = torch::empty({n, len}, torch::kInt64);
  auto acc = c.ids.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const auto s = static_cast<int64_t>(rng() % range);
    for (int64_t j = 0; j < len; ++j) acc[i][j] = tokens[static_cast<size_t>(s + j)];
  }
  c.source = source;
  c.seed = seed;
  return c;
}

}  // namespace qs::text
