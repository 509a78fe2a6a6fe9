#include "app/gui/run_feedback.h"

namespace qs::app {

void RunFeedback::on_progress(const std::string& stage, int64_t done, int64_t total) {
  Q_EMIT progress_changed(QString::fromStdString(stage), done, total);
}

void RunFeedback::on_log(const std::string& line) { Q_EMIT log_line(QString::fromStdString(line)); }

void RunFeedback::on_curve_point(const std::string& series, int64_t step, double value) {
  Q_EMIT curve_point_added(QString::fromStdString(series), step, value);
}

}  // namespace qs::app
