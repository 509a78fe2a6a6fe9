#include "core/feedback.h"

#include "core/error.h"

namespace qs {

void Feedback::progress(const std::string& stage, int64_t done, int64_t total) {
  const auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_report_ < min_interval_) return;
  last_report_ = now;
  on_progress(stage, done, total);
}

void Feedback::cancel() {
  {
    std::lock_guard lock(pause_mutex_);
    cancelled_.store(true, std::memory_order_relaxed);
  }
  resumed_.notify_all();
}

void Feedback::pause() {
  std::lock_guard lock(pause_mutex_);
  paused_ = true;
}

void Feedback::resume() {
  {
    std::lock_guard lock(pause_mutex_);
    paused_ = false;
  }
  resumed_.notify_all();
}

bool Feedback::is_paused() const {
  std::lock_guard lock(pause_mutex_);
  return paused_;
}

void Feedback::check_cancelled() const {
  {
    std::unique_lock lock(pause_mutex_);
    resumed_.wait(lock, [this] { return !paused_ || is_cancelled(); });
  }
  if (is_cancelled()) throw Cancelled();
}

}  // namespace qs
