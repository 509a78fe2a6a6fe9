// main() of every test executable: runs each registered test class (only the
// one named by QS_TEST_CLASS when set). GUI suites are built with QS_TEST_GUI
// and get a QApplication.

#include <cstdlib>
#include <cstring>

#include <QTest>

#include "tests/support/test_registry.h"

#ifdef QS_TEST_GUI
#include <QApplication>
using TestApplication = QApplication;
#else
#include <QCoreApplication>
using TestApplication = QCoreApplication;
#endif

int main(int argc, char** argv) {
  TestApplication app(argc, argv);
  const char* only = std::getenv("QS_TEST_CLASS");
  int failed = 0;
  for (const auto& make : qs::test::registry()) {
    auto test = make();
    if (only && *only && std::strcmp(test->metaObject()->className(), only) != 0) continue;
    failed += QTest::qExec(test.get(), argc, argv);
  }
  return failed == 0 ? 0 : 1;
}
