#include "app/gui/run_controller.h"

#include "app/gui/run_feedback.h"

namespace qs::app {

RunController::RunController(QObject* parent) : QObject(parent), worker_(new RunWorker) {
  qRegisterMetaType<std::shared_ptr<const qs::model::ModelWeights>>();
  qRegisterMetaType<qs::widgets::RunSettings>();
  qRegisterMetaType<std::shared_ptr<qs::app::RunOutcome>>();
  qRegisterMetaType<std::shared_ptr<const qs::app::RunOutcome>>();
  qRegisterMetaType<qs::app::RunFeedback*>();
  qRegisterMetaType<qs::widgets::BlockPoint>();
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(this, &RunController::request_run, worker_, &RunWorker::run);
  connect(this, &RunController::request_refine, worker_, &RunWorker::refine);
  connect(worker_, &RunWorker::started, this, &RunController::started);
  connect(worker_, &RunWorker::fp_perplexity, this, &RunController::fp_perplexity);
  connect(worker_, &RunWorker::block_done, this, &RunController::block_done);
  connect(worker_, &RunWorker::finished, this, [this](std::shared_ptr<RunOutcome> outcome) {
    last_ = std::move(outcome);
    end_run();
    Q_EMIT finished(last_);
  });
  connect(worker_, &RunWorker::failed, this, [this](const QString& message, bool cancelled) {
    end_run();
    Q_EMIT failed(message, cancelled);
  });
  thread_.setObjectName("quantscope-run");
  thread_.start();
}

RunController::~RunController() {
  cancel();
  thread_.quit();
  thread_.wait();
  delete feedback_;
}

void RunController::start(std::shared_ptr<const model::ModelWeights> weights, const QString& model_path,
                          const widgets::RunSettings& settings) {
  if (busy() || !weights) return;
  Q_EMIT request_run(std::move(weights), model_path, settings, begin_run());
}

void RunController::start_refine(std::shared_ptr<const RunOutcome> last, const QString& source_path,
                                 const QString& fp_path, std::shared_ptr<const model::ModelWeights> open,
                                 const widgets::RunSettings& settings) {
  if (busy() || (!last && source_path.isEmpty())) return;
  Q_EMIT request_refine(std::move(last), source_path, fp_path, std::move(open), settings, begin_run());
}

RunFeedback* RunController::begin_run() {
  feedback_ = new RunFeedback;
  connect(feedback_, &RunFeedback::progress_changed, this, &RunController::progress_changed);
  connect(feedback_, &RunFeedback::log_line, this, &RunController::log_line);
  connect(feedback_, &RunFeedback::curve_point_added, this, &RunController::loss_point);
  return feedback_;
}

void RunController::cancel() {
  if (feedback_) feedback_->cancel();
}

void RunController::set_paused(bool paused) {
  if (!feedback_ || paused == feedback_->is_paused()) return;
  if (paused)
    feedback_->pause();
  else
    feedback_->resume();
  Q_EMIT paused_changed(paused);
}

bool RunController::paused() const { return feedback_ && feedback_->is_paused(); }

void RunController::end_run() {
  if (feedback_ && feedback_->is_paused()) Q_EMIT paused_changed(false);
  // Signals the worker queued before it finished may still be in the event
  // queue; deleteLater lets them arrive first.
  if (feedback_) feedback_->deleteLater();
  feedback_ = nullptr;
}

}  // namespace qs::app
