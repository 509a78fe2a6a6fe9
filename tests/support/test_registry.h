#pragma once
// Lets each test .cpp of an area register its QObject test class, so one
// executable per area runs them all:  QS_REGISTER_TEST(TestGgufReader)

#include <QObject>

#include <functional>
#include <memory>
#include <vector>

namespace qs::test {

using TestFactory = std::function<std::unique_ptr<QObject>()>;
std::vector<TestFactory>& registry();

struct Registrar {
  explicit Registrar(TestFactory f) { registry().push_back(std::move(f)); }
};

}  // namespace qs::test

#define QS_REGISTER_TEST(Class)                                                  \
  static const ::qs::test::Registrar qs_registrar_##Class{                       \
      [] { return std::unique_ptr<QObject>(std::make_unique<Class>()); }}
