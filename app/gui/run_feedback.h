#pragma once
// The pipeline's Feedback for a GUI run: created on the GUI thread, called on
// the worker thread, and turned into signals that Qt queues back to the GUI
// thread. cancel() (the Feedback's atomic flag) is safe from the GUI thread.

#include <QObject>
#include <QString>

#include "core/feedback.h"

namespace qs::app {

class RunFeedback : public QObject, public Feedback {
  Q_OBJECT
 Q_SIGNALS:
  void progress_changed(const QString& stage, qint64 done, qint64 total);
  void log_line(const QString& line);
  void curve_point_added(const QString& series, qint64 step, double value);

 protected:
  void on_progress(const std::string& stage, int64_t done, int64_t total) override;
  void on_log(const std::string& line) override;
  void on_curve_point(const std::string& series, int64_t step, double value) override;
};

}  // namespace qs::app
