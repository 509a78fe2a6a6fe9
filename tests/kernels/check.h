#pragma once
// A minimal check harness for test_kernels, which has no Qt so that it builds
// on GPU machines that have only a compiler and PyTorch. Each CHECK failure
// prints the file, line and message; main() returns non-zero if any failed.

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace qs::test {

struct KernelCase {
  const char* name;
  std::function<void()> body;
};

std::vector<KernelCase>& kernel_cases();
int& kernel_failures();

struct KernelCaseRegistrar {
  KernelCaseRegistrar(const char* name, std::function<void()> body) {
    kernel_cases().push_back({name, std::move(body)});
  }
};

// Printed instead of running a case whose hardware is absent.
struct Skipped {
  std::string why;
};

}  // namespace qs::test

#define QS_KERNEL_CASE(name)                                                                  \
  static void name();                                                                         \
  static const ::qs::test::KernelCaseRegistrar qs_kernel_case_##name{#name, name};            \
  static void name()

#define QS_CHECK(cond, msg)                                                                   \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "FAIL %s:%d: %s (%s)\n", __FILE__, __LINE__, std::string(msg).c_str(), #cond); \
      ++::qs::test::kernel_failures();                                                        \
    }                                                                                         \
  } while (0)
