#pragma once
// Progress, log and cancellation for long core work, in the manner of QGIS's
// QgsFeedback. Core code calls it from its worker thread; front ends (the CLI's
// progress bar, the GUI's queued signals) subclass it. Progress is throttled
// here so a tight loop cannot flood a GUI event queue.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

namespace qs {

class Feedback {
 public:
  virtual ~Feedback() = default;

  // Reports `done` of `total` units of the current stage. Calls on_progress at
  // most every `min_interval` unless the stage just finished.
  void progress(const std::string& stage, int64_t done, int64_t total);
  void log(const std::string& line) { on_log(line); }
  // One point of a live curve, e.g. a learned method's loss per step
  // ("layer 3 lwc loss", step, loss). Not throttled: callers report at most
  // once per optimizer step.
  void curve_point(const std::string& series, int64_t step, double value) { on_curve_point(series, step, value); }

  // Safe to call from any thread.
  void cancel();
  bool is_cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  // Safe to call from any thread: the work stops at its next check_cancelled()
  // and waits there until resume() or cancel().
  void pause();
  void resume();
  bool is_paused() const;
  // Throws qs::Cancelled when cancel() was called, waits while paused; call
  // between units of work.
  void check_cancelled() const;

  void set_min_interval(std::chrono::milliseconds ms) { min_interval_ = ms; }

 protected:
  virtual void on_progress(const std::string& /*stage*/, int64_t /*done*/, int64_t /*total*/) {}
  virtual void on_log(const std::string& /*line*/) {}
  virtual void on_curve_point(const std::string& /*series*/, int64_t /*step*/, double /*value*/) {}

 private:
  std::atomic<bool> cancelled_{false};
  mutable std::mutex pause_mutex_;
  mutable std::condition_variable resumed_;
  bool paused_ = false;  // guarded by pause_mutex_
  std::chrono::milliseconds min_interval_{100};
  std::chrono::steady_clock::time_point last_report_{};
};

}  // namespace qs
