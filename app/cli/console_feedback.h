#pragma once
// qs::Feedback for the terminal: a progress bar with rate and ETA on stderr
// (redrawn in place on a terminal, one line per 10% otherwise), log lines on
// stderr, and Ctrl-C turned into a cancel request.

#include <chrono>
#include <string>

#include "core/feedback.h"

namespace qs::cli {

class ConsoleFeedback : public Feedback {
 public:
  ConsoleFeedback();
  ~ConsoleFeedback() override;
  // Ends the current bar line, if any.
  void finish_line();

 protected:
  void on_progress(const std::string& stage, int64_t done, int64_t total) override;
  void on_log(const std::string& line) override;

 private:
  bool tty_;
  bool bar_open_ = false;
  std::string stage_;
  int64_t last_decile_ = -1;
  std::chrono::steady_clock::time_point stage_start_;
};

}  // namespace qs::cli
