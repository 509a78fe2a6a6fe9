#include "app/gui/model_controller.h"

#include "app/gui/model_load_worker.h"

namespace qs::app {

ModelController::ModelController(QObject* parent) : QObject(parent), worker_(new ModelLoadWorker) {
  qRegisterMetaType<std::shared_ptr<const qs::model::ModelWeights>>();
  qRegisterMetaType<qs::widgets::ModelOutline>();
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(this, &ModelController::request_load, worker_, &ModelLoadWorker::load);
  connect(worker_, &ModelLoadWorker::loaded, this,
          [this](std::shared_ptr<const model::ModelWeights> w, widgets::ModelOutline o) {
            busy_ = false;
            model_ = std::move(w);
            outline_ = std::move(o);
            Q_EMIT model_loaded(outline_);
          });
  connect(worker_, &ModelLoadWorker::failed, this, [this](const QString& path, const QString& msg) {
    busy_ = false;  // the previous model, if any, stays open
    Q_EMIT load_failed(path, msg);
  });
  thread_.setObjectName("quantscope-worker");
  thread_.start();
}

ModelController::~ModelController() {
  thread_.requestInterruption();
  thread_.quit();
  thread_.wait();
}

void ModelController::open(const QString& path) {
  if (busy_) return;
  busy_ = true;
  Q_EMIT load_started(path);
  Q_EMIT request_load(path);
}

}  // namespace qs::app
