#pragma once
// What the inspector shows for a linear no run has analysed yet: its weight
// quantized round-to-nearest on the grid the layer would get (the method
// panel's, or the layer's own setting), so a researcher can click through a
// freshly opened checkpoint and see spectra, error map, channel maxima and
// the histogram before running anything. A linear a checkpoint stores
// quantized is shown as stored, against the FP model it was quantized from
// (read once, when first needed, with the input scales its provenance
// records). Computed on a worker thread, one layer at
// a time (clicking through the tree only computes the last layer asked for),
// and cached per layer and grid.

#include <QHash>
#include <QObject>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "core/model/model_weights.h"
#include "core/quant/quant_spec.h"
#include "widgets/layer_inspection.h"

class QThread;

namespace qs::app {

// The inspection of `name` ("model.layers.3.mlp.up_proj") under RTN on `spec`,
// or, when `weights` store it quantized, of the stored record against `fp`
// (in the frame of the input scales `recorded` beside the checkpoint).
// Throws qs::Error naming the linear when the model has no such linear, or
// when a stored one has no FP model or cannot be compared with it.
widgets::LayerInspection preview_inspection(const model::ModelWeights& weights, const std::string& name,
                                            const quant::QuantSpec& spec, const model::ModelWeights* fp = nullptr,
                                            const std::map<std::string, torch::Tensor>& recorded = {});

class LayerPreviewController : public QObject {
  Q_OBJECT
 public:
  explicit LayerPreviewController(QObject* parent = nullptr);
  ~LayerPreviewController() override;

  // Emits ready at once when cached, else after the worker computed it.
  void request(std::shared_ptr<const model::ModelWeights> weights, const QString& name, const quant::QuantSpec& spec);
  // A different model was opened: the cache and any queued request belong to the old one.
  void clear();
  // The FP model the opened checkpoint was quantized from; empty: not known.
  void set_fp_model(const std::filesystem::path& path);
  bool busy() const { return thread_ != nullptr; }

 Q_SIGNALS:
  void ready(const QString& name, const qs::widgets::LayerInspection& inspection);
  void failed(const QString& name, const QString& message);

 private:
  // Loaded by the first request that needs it, on the worker thread.
  struct FpModel {
    std::filesystem::path path;
    std::mutex loading;
    std::shared_ptr<const model::ModelWeights> weights;
    std::map<std::string, torch::Tensor> input_scales;  // what the checkpoint's provenance records
  };
  struct Request {
    std::shared_ptr<const model::ModelWeights> weights;
    std::shared_ptr<FpModel> fp;
    QString name;
    quant::QuantSpec spec;
    QString key;
  };
  void start(Request r);
  void done();

  QThread* thread_ = nullptr;
  std::unique_ptr<Request> queued_;
  QHash<QString, widgets::LayerInspection> cache_;
  std::shared_ptr<FpModel> fp_;
  quint64 generation_ = 0;  // bumped by clear(), so a result for the old model is dropped
};

}  // namespace qs::app
