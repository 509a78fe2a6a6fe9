#pragma once
// Wall time of the CLI's stages, for its log lines and JSON.

#include <chrono>

namespace qs::cli {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace qs::cli
