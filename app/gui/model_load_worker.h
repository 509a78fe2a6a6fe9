#pragma once
// Loads a checkpoint on the controller's worker thread. Results cross back to
// the GUI thread through queued signals that hand over ownership.

#include <QObject>
#include <QString>

#include <memory>

#include "core/model/model_weights.h"
#include "widgets/model_outline.h"

namespace qs::app {

class ModelLoadWorker : public QObject {
  Q_OBJECT
 public Q_SLOTS:
  void load(const QString& path);

 Q_SIGNALS:
  void loaded(std::shared_ptr<const qs::model::ModelWeights> weights, qs::widgets::ModelOutline outline);
  void failed(const QString& path, const QString& message);
};

}  // namespace qs::app
