#include "app/gui/layer_preview.h"

#include <QMetaObject>
#include <QObject>
#include <QThread>
#include <exception>

#include "app/gui/background_priority.h"
#include "app/gui/project_outline.h"
#include "core/analysis/layer_analysis.h"
#include "core/analysis/stored_linear.h"
#include "core/checkpoint/model_loader.h"
#include "core/checkpoint/provenance.h"
#include "core/error.h"
#include "core/project/project.h"
#include "core/quant/quantized_linear.h"

namespace qs::app {
namespace {

widgets::LayerInspection stored_inspection(const model::ModelWeights& weights, const model::ModelWeights* fp,
                                           const std::string& name,
                                           const std::map<std::string, torch::Tensor>& recorded) {
  if (!fp) throw Error(name + " is stored quantized, and the checkpoint records no FP model to compare it with");
  const auto frame = analysis::fp_weight_in_stored_frame(weights, *fp, name, recorded);
  if (!frame.fp_weight.defined()) throw Error(name + " cannot be compared with its FP model: " + frame.why_not);
  const auto& w = frame.fp_weight;
  project::LayerEntry e;
  e.name = name;
  e.record = weights.quantized.at(name);
  e.spec = e.record->spec;
  e.analyses = analysis::analyze_layer(w, *e.record, analysis::ChannelStats{});
  e.weight_mse = e.analyses.at("weight_mse").item<double>();
  const auto rtn = quant::QuantizedLinear::round_to_nearest(w, e.spec).dequantized_weight();
  const double rtn_mse = (w - rtn.to(torch::kCPU, torch::kFloat32)).square().mean().item<double>();
  auto li = build_inspection(e);
  li.title =
      QObject::tr("%1 · as stored, %2, against its FP model").arg(li.name, QString::fromStdString(e.spec.label()));
  li.metrics.prepend({QObject::tr("Stored"), QObject::tr("against the FP model it was quantized from; weights only")});
  li.metrics.append({QObject::tr("Weight MSE"), QString::number(e.weight_mse, 'e', 3)});
  li.metrics.append({QObject::tr("Weight MSE of RTN"), QString::number(rtn_mse, 'e', 3)});
  // No method lands far above RTN on its own grid; a stored layer that does
  // was most likely transformed in a way the checkpoint does not record.
  if (e.weight_mse > 4 * rtn_mse)
    li.metrics.append({QObject::tr("Caution"), QObject::tr("%1× RTN's error: the method may have transformed this "
                                                           "weight in a way the checkpoint does not record")
                                                   .arg(e.weight_mse / rtn_mse, 0, 'f', 1)});
  return li;
}

}  // namespace

widgets::LayerInspection preview_inspection(const model::ModelWeights& weights, const std::string& name,
                                            const quant::QuantSpec& spec, const model::ModelWeights* fp,
                                            const std::map<std::string, torch::Tensor>& recorded) {
  if (weights.quantized.count(name)) return stored_inspection(weights, fp, name, recorded);
  if (!weights.has(name + ".weight"))
    throw FormatError(weights.source.string(), "tensor '" + name + ".weight'", "the model has no such linear");
  const auto w = weights.at(name + ".weight").to(torch::kFloat32);
  project::LayerEntry e;
  e.name = name;
  e.spec = spec;
  auto q = std::make_shared<quant::QuantizedLinear>(quant::QuantizedLinear::round_to_nearest(w, spec));
  e.analyses = analysis::analyze_layer(w, *q, analysis::ChannelStats{});
  e.weight_mse = e.analyses.at("weight_mse").item<double>();
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
  Request r{std::move(weights), fp_, name, spec, name + '|' + QString::fromStdString(spec.label())};
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
  fp_.reset();
  ++generation_;
}

void LayerPreviewController::set_fp_model(const std::filesystem::path& path) {
  fp_.reset();
  if (path.empty()) return;
  fp_ = std::make_shared<FpModel>();
  fp_->path = path;
}

void LayerPreviewController::start(Request r) {
  const quint64 generation = generation_;
  thread_ = QThread::create([this, r, generation] {
    lower_current_thread_priority();
    try {
      std::shared_ptr<const model::ModelWeights> fp;
      std::map<std::string, torch::Tensor> scales;
      if (r.fp && r.weights->quantized.count(r.name.toStdString())) {
        const std::lock_guard lock(r.fp->loading);
        if (!r.fp->weights) {
          r.fp->input_scales = checkpoint::read_provenance(r.weights->source).input_scales;
          r.fp->weights = std::make_shared<const model::ModelWeights>(checkpoint::load_model(r.fp->path));
        }
        fp = r.fp->weights;
        scales = r.fp->input_scales;
      }
      auto li = preview_inspection(*r.weights, r.name.toStdString(), r.spec, fp.get(), scales);
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
