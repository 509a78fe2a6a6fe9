#pragma once
// Owns the open model and the worker thread that loads it; the main window
// and docks observe it. Only the GUI thread touches the current model.

#include <QObject>
#include <QThread>

#include <memory>

#include "core/model/model_weights.h"
#include "widgets/model_outline.h"

namespace qs::app {

class ModelLoadWorker;

class ModelController : public QObject {
  Q_OBJECT
 public:
  explicit ModelController(QObject* parent = nullptr);
  ~ModelController() override;

  // Starts loading off the GUI thread; emits model_loaded or load_failed.
  void open(const QString& path);
  bool busy() const { return busy_; }
  std::shared_ptr<const model::ModelWeights> model() const { return model_; }
  const widgets::ModelOutline& outline() const { return outline_; }
  // After a run: the same model, its linears now showing the run's methods,
  // errors and analyses.
  void update_outline(widgets::ModelOutline o) { outline_ = std::move(o); }

 Q_SIGNALS:
  void load_started(const QString& path);
  void model_loaded(const qs::widgets::ModelOutline& outline);
  void load_failed(const QString& path, const QString& message);
  void request_load(const QString& path);

 private:
  QThread thread_;
  ModelLoadWorker* worker_;
  bool busy_ = false;
  std::shared_ptr<const model::ModelWeights> model_;
  widgets::ModelOutline outline_;
};

}  // namespace qs::app
