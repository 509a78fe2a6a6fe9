#pragma once
// Where tests find optional inputs. Each returns an empty path when the input
// is absent, and the test then skips with a message saying what to fetch;
// where packaging/test.sh has fetched them (CI), a missing one fails instead.

#include <QTest>
#include <filesystem>
#include <string>

namespace qs::test {

// $QS_DEMO_MODEL, else the file packaging/fetch-demo-model.sh writes.
std::filesystem::path demo_model();
// ../shared/data/<name> beside the checkout.
std::filesystem::path shared_data(const char* name);
// $QS_CACHE/reference/<name> (~/.cache/quantscope/reference/<name>) when it exists.
std::filesystem::path reference(const std::string& name);
// Whether the demo model and the references must be there: packaging/test.sh
// sets QS_REQUIRE_REFERENCES=1 after writing them.
bool references_required();
}  // namespace qs::test

// QSKIP, or QFAIL where references_required(): CI must not pass by skipping.
#define QS_SKIP_UNLESS_REQUIRED(message)                         \
  do {                                                           \
    if (qs::test::references_required()) QFAIL(message);         \
    QSKIP(message);                                              \
  } while (0)
