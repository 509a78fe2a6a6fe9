// main() of test_kernels: runs every QS_KERNEL_CASE (only those whose name
// contains QS_TEST_CLASS when set) and reports skips and failures.

#include <cstdlib>
#include <cstring>
#include <exception>

#include "tests/kernels/check.h"

namespace qs::test {

std::vector<KernelCase>& kernel_cases() {
  static std::vector<KernelCase> cases;
  return cases;
}

int& kernel_failures() {
  static int failures = 0;
  return failures;
}

}  // namespace qs::test

int main() {
  using namespace qs::test;
  const char* only = std::getenv("QS_TEST_CLASS");
  int run = 0;
  for (const auto& c : kernel_cases()) {
    if (only && *only && !std::strstr(c.name, only)) continue;
    const int before = kernel_failures();
    try {
      c.body();
      std::printf("%s %s\n", kernel_failures() == before ? "PASS" : "FAIL", c.name);
    } catch (const Skipped& s) {
      std::printf("SKIP %s: %s\n", c.name, s.why.c_str());
    } catch (const std::exception& e) {
      ++kernel_failures();
      std::printf("FAIL %s: unexpected exception: %s\n", c.name, e.what());
    }
    ++run;
  }
  std::printf("%d cases, %d failed checks\n", run, kernel_failures());
  return kernel_failures() == 0 && run > 0 ? 0 : 1;
}
