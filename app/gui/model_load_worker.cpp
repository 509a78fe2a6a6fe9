#include "app/gui/model_load_worker.h"

#include "app/gui/background_priority.h"
#include "app/gui/outline_builder.h"
#include "app/gui/project_outline.h"
#include "core/checkpoint/model_loader.h"
#include "core/error.h"
#if QS_WITH_HDF5
#include "core/project/project_file.h"
#include "core/project/project_model.h"
#endif

namespace qs::app {

namespace {

#if QS_WITH_HDF5
// A project opens with its model when the model can be read, and on its own
// (plots and metrics, no model) when it cannot; either way the user is told.
void load_project(ModelLoadWorker* worker, const QString& path) {
  const auto p = project::load_project(path.toStdString());
  const auto status = project::check_model(p.model);
  std::shared_ptr<const model::ModelWeights> w;
  widgets::ModelOutline outline;
  QString warning = QString::fromStdString(status.message);
  if (status.state != project::ModelState::Missing) {
    try {
      w = std::make_shared<const model::ModelWeights>(project::project_weights(p, path.toStdString()));
      outline = build_outline(*w);
    } catch (const qs::Error& e) {
      warning = QObject::tr("The project's model could not be used: %1").arg(QString::fromStdString(e.what()));
    }
  }
  apply_project(p, outline);
  outline.path = path;
  outline.project_path = path;
  outline.fp_model = QString::fromStdString(p.model.path);
  outline.warning = warning;
  Q_EMIT worker->loaded(w, outline);
}
#endif

}  // namespace

void ModelLoadWorker::load(const QString& path) {
  lower_current_thread_priority();
  try {
    if (path.endsWith(QStringLiteral(".qsproj"))) {
#if QS_WITH_HDF5
      load_project(this, path);
      return;
#else
      Q_EMIT failed(path, tr("This build of QuantScope has no HDF5 support, so it cannot open %1").arg(path));
      return;
#endif
    }
    auto w = std::make_shared<const model::ModelWeights>(checkpoint::load_model(path.toStdString()));
    auto outline = build_outline(*w);
    if (!w->quantized.empty()) apply_provenance(checkpoint::read_provenance(w->source), *w, outline);
    Q_EMIT loaded(w, outline);
  } catch (const qs::Error& e) {
    Q_EMIT failed(path, QString::fromStdString(e.what()));
  } catch (const std::bad_alloc&) {
    Q_EMIT failed(path, tr("out of memory while loading %1").arg(path));
  } catch (const c10::Error& e) {
    Q_EMIT failed(path, QString::fromStdString(e.what_without_backtrace()));
  }
}

}  // namespace qs::app
