#pragma once
// Runs one quantization on the run controller's worker thread: tokenizer,
// calibration sample, the pipeline with a live perplexity of the partly
// quantized model after each block, on a decoder of its own (the open model
// is never modified). Or a refinement (RILQ) over a model quantized before:
// the last run's, an opened project's or checkpoint's. Results go
// back through queued signals.

#include <QObject>
#include <QString>
#include <exception>
#include <filesystem>
#include <memory>

#include "core/model/decoder.h"
#include "core/model/model_weights.h"
#include "core/pipeline/pipeline.h"
#include "widgets/method_panel.h"
#include "widgets/run_view.h"
#if QS_WITH_HDF5
#include "core/project/project.h"
#endif

namespace qs::app {

class RunFeedback;

struct RunOutcome {
  widgets::RunSettings settings;
  std::shared_ptr<model::Decoder> decoder;  // the quantized model
  pipeline::PipelineResult result;
  double fp_perplexity = 0;  // on the live slice; 0 without one
  double perplexity = 0;
  double mean_kl = 0;  // per token, to the FP model, on the live slice after the last block
  // The run's journal (run_journal.h), kept until its results are written to
  // a project or an autosave; empty for a refinement.
  std::filesystem::path journal;
#if QS_WITH_HDF5
  project::Project project;  // what Save Project writes
#endif
};

class RunWorker : public QObject {
  Q_OBJECT
 public Q_SLOTS:
  // `feedback` outlives the run (the controller owns it).
  void run(std::shared_ptr<const qs::model::ModelWeights> weights, const QString& model_path,
           const qs::widgets::RunSettings& settings, qs::app::RunFeedback* feedback);
  // Trains the refinement `settings.then` names over the quantized model of
  // `last` (a finished run's project) or, when null, of the project,
  // QuantScope checkpoint or packed export at `source_path`, with targets
  // from the model it was quantized from: `open` (the open model) when that
  // is it, else read from `fp_path` or, when empty, from the path the source
  // records. An open checkpoint is `open` itself. The open model is never modified.
  void refine(std::shared_ptr<const qs::app::RunOutcome> last, const QString& source_path, const QString& fp_path,
              std::shared_ptr<const qs::model::ModelWeights> open, const qs::widgets::RunSettings& settings,
              qs::app::RunFeedback* feedback);

 Q_SIGNALS:
  // `refinement_only`: a refinement over a model quantized before, no block stage.
  void started(int blocks, const QString& title, bool refinement_only);
  void fp_perplexity(double ppl);
  void block_done(const qs::widgets::BlockPoint& point);
  void finished(std::shared_ptr<qs::app::RunOutcome> outcome);
  // cancelled: the user asked for it; the message says what happened.
  void failed(const QString& message, bool cancelled);

 private:
  // Emits `failed` with what the user should read for the exception `e`.
  void fail(std::exception_ptr e);
};

}  // namespace qs::app
