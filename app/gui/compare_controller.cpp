#include "app/gui/compare_controller.h"

#include <torch/cuda.h>

#include <QMetaObject>
#include <QThread>
#include <exception>
#include <new>

#include "app/gui/background_priority.h"
#include "app/gui/calibration_source.h"
#include "app/gui/method_infos.h"
#include "app/gui/project_outline.h"
#include "core/checkpoint/model_loader.h"
#include "core/error.h"
#include "core/pipeline/layer_trial.h"

namespace qs::app {
namespace {

// The panel's own method keeps the panel's hyper-parameters; the others run with their defaults.
pipeline::LayerChoice choice_for(const QString& method, const widgets::RunSettings& s) {
  return choice_of({method, s.bits, s.group, s.symmetric, method == s.method ? s.params : QVariantMap{}}, "compare");
}

}  // namespace

CompareController::CompareController(QObject* parent) : QObject(parent) {
  qRegisterMetaType<QVector<qs::widgets::CompareEntry>>();
}

CompareController::~CompareController() {
  cancel();
  if (!thread_) return;
  thread_->wait();
  delete thread_;
}

void CompareController::start(const CompareRequest& r) {
  if (busy()) return;
  feedback_ = std::make_shared<Feedback>();
  auto feedback = feedback_;
  thread_ = QThread::create([this, r, feedback] {
    lower_current_thread_priority();
    auto report = [this](const QString& what) {
      QMetaObject::invokeMethod(
          this, [this, what] { Q_EMIT progress(what); }, Qt::QueuedConnection);
    };
    QString error;
    bool cancelled = false;
    QVector<widgets::CompareEntry> entries;
    try {
      auto weights = r.weights;
      if (!weights) {
        report(tr("Reading %1…").arg(r.model_path));
        weights = std::make_shared<const model::ModelWeights>(checkpoint::load_model(r.model_path.toStdString()));
      }
      report(tr("Sampling the calibration text…"));
      const auto source = load_calibration(r.model_path, r.settings);
      pipeline::TrialOptions o;
      if (torch::cuda::is_available()) {
        o.device = torch::kCUDA;
        o.dtype = torch::kFloat16;
      }
      for (const auto& method : r.methods) {
        const auto choice = choice_for(method, r.settings);
        report(tr("Running %1 %2 on %3…").arg(method, QString::fromStdString(choice.spec.label()), r.layer));
        const auto l =
            pipeline::quantize_one_linear(*weights, r.layer.toStdString(), choice, source.calibration, o, *feedback);
        entries.append({method + ' ' + QString::fromStdString(choice.spec.label()), l.output_rel_mse, l.weight_mse,
                        l.seconds, analysis_values(l.analyses, "sv_error"),
                        analysis_values(l.analyses, "sv_scaled_error"), analysis_scalar(l.analyses, "sv_error_energy"),
                        analysis_scalar(l.analyses, "sv_scaled_error_energy")});
      }
    } catch (const Cancelled&) {
      cancelled = true;
      error = tr("Cancelled.");
    } catch (const c10::Error& e) {
      error = tr("Error in torch: %1").arg(QString::fromUtf8(e.what_without_backtrace()));
    } catch (const std::bad_alloc&) {
      error = tr("Out of memory. Try fewer calibration sequences or a shorter length.");
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    }
    QMetaObject::invokeMethod(
        this,
        [this, r, entries, error, cancelled] {
          done();
          if (error.isEmpty())
            Q_EMIT finished(r.layer, entries);
          else
            Q_EMIT failed(error, cancelled);
        },
        Qt::QueuedConnection);
  });
  thread_->start();
}

void CompareController::cancel() {
  if (feedback_) feedback_->cancel();
}

void CompareController::done() {
  if (!thread_) return;
  thread_->wait();
  delete thread_;
  thread_ = nullptr;
  feedback_.reset();
}

}  // namespace qs::app
