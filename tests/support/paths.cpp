#include "tests/support/paths.h"

#include <cstdlib>
#include <string>

namespace qs::test {

std::filesystem::path demo_model() {
  if (const char* env = std::getenv("QS_DEMO_MODEL"); env && *env) {
    std::filesystem::path p(env);
    return std::filesystem::exists(p) ? p : std::filesystem::path();
  }
  const char* home = std::getenv("HOME");
  if (!home) return {};
  auto p = std::filesystem::path(home) / ".cache/quantscope/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  return std::filesystem::exists(p) ? p : std::filesystem::path();
}

std::filesystem::path shared_data(const char* name) {
  auto p = std::filesystem::path(QS_SHARED_DATA_DIR) / name;
  return std::filesystem::exists(p) ? p : std::filesystem::path();
}

std::filesystem::path reference(const std::string& name) {
  std::filesystem::path root;
  if (const char* cache = std::getenv("QS_CACHE"); cache && *cache) {
    root = cache;
  } else if (const char* home = std::getenv("HOME")) {
    root = std::filesystem::path(home) / ".cache/quantscope";
  } else {
    return {};
  }
  auto p = root / "reference" / name;
  return std::filesystem::exists(p) ? p : std::filesystem::path();
}

bool references_required() {
  const char* env = std::getenv("QS_REQUIRE_REFERENCES");
  return env && std::string(env) == "1";
}

}  // namespace qs::test
