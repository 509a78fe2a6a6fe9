#include "app/gui/layer_preview.h"

#include <QMetaObject>
#include <QObject>
#include <QThread>
#include <exception>

#include "app/gui/background_priority.h"
#include "app/gui/project_outline.h"
#include "core/analysis/layer_analysis.h"
#include "core/error.h"
#include "core/project/project.h"
#include "core/quant/quantized_linear.h"

namespace qs::app {
namespace {

torch::Tensor linear_weight(const model::ModelWeights& weights, const std::string& name) {
  if (weights.has(name + ".weight")) return weights.at(name + ".weight").to(torch::kFloat32);
  if (auto it = weights.quantized.find(name); it != weights.quantized.end())
    return it->second->dequantized_weight().to(torch::kCPU, torch::kFloat32);
  throw FormatError(weights.source.string(), "tensor '" + name + ".weight'", "the model has no such linear");
}

}  // namespace

widgets::LayerInspection preview_inspection(const model::ModelWeights& weights, const std::string& name,
                                            const quant::QuantSpec& spec) {
  const auto w = linear_weight(weights, name);
  project::LayerEntry e;
  e.name = name;
  e.spec = spec;
  auto q = std::make_shared<quant::QuantizedLinear>(quant::QuantizedLinear::round_to_nearest(w, spec));
  e.analyses = analysis::analyze_layer(w, *q, analysis::ChannelStats{});
  e.weight_mse = (w - q->dequantized_weight().to(torch::kCPU, torch::kFloat32)).square().mean().item<double>();
  e.record = std::move(q);
  auto li = build_inspection(e);
  li.title = QObject::tr("%1 · preview: RTN %2").arg(li.name, QString::fromStdString(spec.label()));
  li.metrics.prepend({QObject::tr("Preview"), QObject::tr("weights only; a run adds its own error and the inputs")});
  li.metrics.append({QObject::tr("Weight MSE (RTN)"), QString::number(e.weight_mse, 'e', 3)});
  return li;
}

LayerPreviewController::LayerPreviewController(QObject* parent) : QObject(parent) {
  qRegisterMetaType<qs::widgets::LayerInspection>();
}

LayerPreviewController::~LayerPreviewController() {
  if (!thread_) return;
  thread_->wait();
  delete thread_;
}

void LayerPreviewController::request(std::shared_ptr<const model::ModelWeights> weights, const QString& name,
                                     const quant::QuantSpec& spec) {
  Request r{std::move(weights), name, spec, name + '|' + QString::fromStdString(spec.label())};
  if (auto it = cache_.constFind(r.key); it != cache_.constEnd()) {
    Q_EMIT ready(name, *it);
    return;
  }
  if (busy()) {
    queued_ = std::make_unique<Request>(std::move(r));
    return;
  }
  start(std::move(r));
}

void LayerPreviewController::clear() {
  cache_.clear();
  queued_.reset();
  ++generation_;
}

void LayerPreviewController::start(Request r) {
  const quint64 generation = generation_;
  thread_ = QThread::create([this, r, generation] {
    lower_current_thread_priority();
    try {
      auto li = preview_inspection(*r.weights, r.name.toStdString(), r.spec);
      QMetaObject::invokeMethod(
          this,
          [this, r, li, generation] {
            if (generation == generation_) {
              cache_.insert(r.key, li);
              Q_EMIT ready(r.name, li);
            }
            done();
          },
          Qt::QueuedConnection);
    } catch (const std::exception& e) {
      const QString message = QString::fromUtf8(e.what());
      QMetaObject::invokeMethod(
          this,
          [this, r, message, generation] {
            if (generation == generation_) Q_EMIT failed(r.name, message);
            done();
          },
          Qt::QueuedConnection);
    }
  });
  thread_->start();
}

void LayerPreviewController::done() {
  thread_->wait();
  delete thread_;
  thread_ = nullptr;
  if (!queued_) return;
  auto next = std::move(*queued_);
  queued_.reset();
  if (auto it = cache_.constFind(next.key); it != cache_.constEnd())
    Q_EMIT ready(next.name, *it);
  else
    start(std::move(next));
}

}  // namespace qs::app
