#pragma once
// What the inspector shows for a linear no run has analysed yet: its weight
// quantized round-to-nearest on the grid the layer would get (the method
// panel's, or the layer's own setting), so a researcher can click through a
// freshly opened checkpoint and see spectra, error map, channel maxima and
// the histogram before running anything. Computed on a worker thread, one
// layer at a time (clicking through the tree only computes the last layer
// asked for), and cached per layer and grid.

#include <QHash>
#include <QObject>
#include <memory>

#include "core/model/model_weights.h"
#include "core/quant/quant_spec.h"
#include "widgets/layer_inspection.h"

class QThread;

namespace qs::app {

// The inspection of `name` ("model.layers.3.mlp.up_proj") under RTN on `spec`.
// Throws qs::FormatError when the model has no such linear.
widgets::LayerInspection preview_inspection(const model::ModelWeights& weights, const std::string& name,
                                            const quant::QuantSpec& spec);

class LayerPreviewController : public QObject {
  Q_OBJECT
 public:
  explicit LayerPreviewController(QObject* parent = nullptr);
  ~LayerPreviewController() override;

  // Emits ready at once when cached, else after the worker computed it.
  void request(std::shared_ptr<const model::ModelWeights> weights, const QString& name, const quant::QuantSpec& spec);
  // A different model was opened: the cache and any queued request belong to the old one.
  void clear();
  bool busy() const { return thread_ != nullptr; }

 Q_SIGNALS:
  void ready(const QString& name, const qs::widgets::LayerInspection& inspection);
  void failed(const QString& name, const QString& message);

 private:
  struct Request {
    std::shared_ptr<const model::ModelWeights> weights;
    QString name;
    quant::QuantSpec spec;
    QString key;
  };
  void start(Request r);
  void done();

  QThread* thread_ = nullptr;
  std::unique_ptr<Request> queued_;
  QHash<QString, widgets::LayerInspection> cache_;
  quint64 generation_ = 0;  // bumped by clear(), so a result for the old model is dropped
};

}  // namespace qs::app
