#include "core/feedback.h"

#include "core/error.h"

namespace qs {

void Feedback::progress(const std::string& stage, int64_t done, int64_t total) {
  const auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_report_ < min_interval_) return;
  last_report_ = now;
  on_progress(stage, done, total);
}

void Feedback::check_cancelled() const {
  if (is_cancelled()) throw Cancelled();
}

}  // namespace qs
