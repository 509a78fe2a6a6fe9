#pragma once
// Owns the run worker's thread and the current run's feedback: starts a run
// of the method panel's settings on the open model, forwards its progress,
// and keeps the last finished outcome for saving and export. Cancel asks the
// pipeline to stop at its next check (between layers, optimizer steps and
// evaluation windows); the open model is never modified by a run.

#include <QObject>
#include <QThread>
#include <memory>

#include "app/gui/run_worker.h"

namespace qs::app {

class RunFeedback;

class RunController : public QObject {
  Q_OBJECT
 public:
  explicit RunController(QObject* parent = nullptr);
  ~RunController() override;

  bool busy() const { return feedback_ != nullptr; }
  void start(std::shared_ptr<const model::ModelWeights> weights, const QString& model_path,
             const widgets::RunSettings& settings);
  // Trains the panel's refinement over the last run's model (`last`) or the
  // project or checkpoint at `source_path`; `open` is the open model (the FP
  // model of `last`, or the checkpoint itself), `fp_path` names the FP model
  // otherwise (empty: the one the source records).
  void start_refine(std::shared_ptr<const RunOutcome> last, const QString& source_path, const QString& fp_path,
                    std::shared_ptr<const model::ModelWeights> open, const widgets::RunSettings& settings);
  void cancel();
  // The run stops at its next step (between layers, optimizer steps and
  // evaluation windows) until resumed or cancelled.
  void set_paused(bool paused);
  bool paused() const;
  std::shared_ptr<const RunOutcome> last_outcome() const { return last_; }

 Q_SIGNALS:
  void started(int blocks, const QString& title, bool refinement_only);
  void fp_perplexity(double ppl);
  void block_done(const qs::widgets::BlockPoint& point);
  void progress_changed(const QString& stage, qint64 done, qint64 total);
  void log_line(const QString& line);
  void loss_point(const QString& series, qint64 step, double value);
  void finished(std::shared_ptr<const qs::app::RunOutcome> outcome);
  void failed(const QString& message, bool cancelled);
  void paused_changed(bool paused);
  void request_run(std::shared_ptr<const qs::model::ModelWeights> weights, const QString& model_path,
                   const qs::widgets::RunSettings& settings, qs::app::RunFeedback* feedback);
  void request_refine(std::shared_ptr<const qs::app::RunOutcome> last, const QString& source_path,
                      const QString& fp_path,
                      std::shared_ptr<const qs::model::ModelWeights> open, const qs::widgets::RunSettings& settings,
                      qs::app::RunFeedback* feedback);

 private:
  // A new feedback for the next job, its progress forwarded.
  RunFeedback* begin_run();
  void end_run();

  QThread thread_;
  RunWorker* worker_;
  RunFeedback* feedback_ = nullptr;
  std::shared_ptr<const RunOutcome> last_;
};

}  // namespace qs::app
