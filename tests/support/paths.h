#pragma once
// Where tests find optional inputs. Each returns an empty path when the input
// is absent, and the test then QSKIPs with a message saying what to fetch.

#include <filesystem>

namespace qs::test {

// $QS_DEMO_MODEL, else the file packaging/fetch-demo-model.sh writes.
std::filesystem::path demo_model();
// ../shared/data/<name> beside the checkout.
std::filesystem::path shared_data(const char* name);
}  // namespace qs::test
