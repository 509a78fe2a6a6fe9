#pragma once
// Runs the Compare tab's methods on one linear (pipeline::quantize_one_linear)
// on a worker thread, one after the other on the same calibration sample, and
// hands the view their metrics and spectra. The open model is never modified.

#include <QObject>
#include <QStringList>
#include <memory>

#include "core/feedback.h"
#include "core/model/model_weights.h"
#include "widgets/compare_view.h"
#include "widgets/method_panel.h"

class QThread;

namespace qs::app {

struct CompareRequest {
  // The FP model; when null, read from model_path on the worker thread (the
  // model a quantized checkpoint was quantized from).
  std::shared_ptr<const model::ModelWeights> weights;
  QString model_path;  // and for its tokenizer
  QString layer;       // "model.layers.3.mlp.up_proj"
  // The grid and calibration of the comparison; the panel's own method keeps
  // the panel's hyper-parameters, the others run with their defaults.
  widgets::RunSettings settings;
  QStringList methods;
};

class CompareController : public QObject {
  Q_OBJECT
 public:
  explicit CompareController(QObject* parent = nullptr);
  // Cancels a comparison in progress and waits for it.
  ~CompareController() override;

  bool busy() const { return thread_ != nullptr; }
  void start(const CompareRequest& request);
  void cancel();

 Q_SIGNALS:
  void progress(const QString& what);
  void finished(const QString& layer, const QVector<qs::widgets::CompareEntry>& entries);
  void failed(const QString& message, bool cancelled);

 private:
  void done();

  QThread* thread_ = nullptr;
  std::shared_ptr<Feedback> feedback_;
};

}  // namespace qs::app
