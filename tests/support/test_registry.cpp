#include "tests/support/test_registry.h"

namespace qs::test {

std::vector<TestFactory>& registry() {
  static std::vector<TestFactory> r;
  return r;
}

}  // namespace qs::test
