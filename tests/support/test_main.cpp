#include <QCoreApplication>
#include <QTest>

#include "tests/support/test_registry.h"

namespace qs::test {

std::vector<TestFactory>& registry() {
  static std::vector<TestFactory> r;
  return r;
}

}  // namespace qs::test

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  int failed = 0;
  for (const auto& make : qs::test::registry()) {
    auto test = make();
    failed += QTest::qExec(test.get(), argc, argv);
  }
  return failed == 0 ? 0 : 1;
}
