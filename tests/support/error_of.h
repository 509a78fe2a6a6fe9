#pragma once
// The message of the exception of type E that f() throws, or an empty string
// when it throws none; tests check that messages name the file and field.

#include <QString>

namespace qs::test {

template <class E, class F>
QString error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return QString::fromUtf8(e.what());
  }
  return {};
}

}  // namespace qs::test
