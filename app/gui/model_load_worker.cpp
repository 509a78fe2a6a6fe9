#include "app/gui/model_load_worker.h"

#include "app/gui/outline_builder.h"
#include "core/error.h"
#include "core/model/model_loader.h"

namespace qs::app {

void ModelLoadWorker::load(const QString& path) {
  try {
    auto w = std::make_shared<const model::ModelWeights>(model::load_model(path.toStdString()));
    Q_EMIT loaded(w, build_outline(*w));
  } catch (const qs::Error& e) {
    Q_EMIT failed(path, QString::fromStdString(e.what()));
  } catch (const std::bad_alloc&) {
    Q_EMIT failed(path, tr("out of memory while loading %1").arg(path));
  } catch (const c10::Error& e) {
    Q_EMIT failed(path, QString::fromStdString(e.what_without_backtrace()));
  }
}

}  // namespace qs::app
