#include "app/cli/console_feedback.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>

namespace qs::cli {
namespace {

ConsoleFeedback* g_active = nullptr;

extern "C" void on_sigint(int) {
  // Only an atomic store: safe in a signal handler. The work stops at its
  // next check and the front end reports "cancelled".
  if (g_active) g_active->cancel();
}

std::string format_seconds(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return buf;
}

}  // namespace

ConsoleFeedback::ConsoleFeedback() : tty_(::isatty(STDERR_FILENO) == 1) {
  g_active = this;
  std::signal(SIGINT, on_sigint);
}

ConsoleFeedback::~ConsoleFeedback() {
  finish_line();
  std::signal(SIGINT, SIG_DFL);
  g_active = nullptr;
}

void ConsoleFeedback::finish_line() {
  if (bar_open_) std::fputc('\n', stderr);
  bar_open_ = false;
}

void ConsoleFeedback::on_progress(const std::string& stage, int64_t done, int64_t total) {
  const auto now = std::chrono::steady_clock::now();
  if (stage != stage_) {
    finish_line();
    stage_ = stage;
    stage_start_ = now;
    last_decile_ = -1;
  }
  const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
  const double elapsed = std::chrono::duration<double>(now - stage_start_).count();
  const double eta = frac > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
  if (!tty_) {
    const int64_t decile = static_cast<int64_t>(frac * 10);
    if (decile == last_decile_ && done < total) return;
    last_decile_ = decile;
  }
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '.');
  std::fprintf(stderr, "%s%-11s [%s] %3.0f%% %lld/%lld  %s elapsed, ETA %s%s", tty_ ? "\r" : "",
               stage.c_str(), bar.c_str(), frac * 100.0, static_cast<long long>(done),
               static_cast<long long>(total), format_seconds(elapsed).c_str(),
               format_seconds(eta).c_str(), tty_ ? "  " : "\n");
  bar_open_ = tty_;
  if (done >= total) finish_line();
  std::fflush(stderr);
}

void ConsoleFeedback::on_log(const std::string& line) {
  finish_line();
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace qs::cli
