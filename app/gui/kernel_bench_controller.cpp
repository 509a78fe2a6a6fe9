#include "app/gui/kernel_bench_controller.h"

#include <torch/cuda.h>

#include <QMetaObject>
#include <QThread>
#include <exception>

#include "core/error.h"
#include "core/model/linear_shapes.h"
#include "kernels/bench/kernel_bench.h"

namespace qs::app {
namespace {

widgets::KernelSpeedReport to_report(const kernels::KernelBenchResult& r, bool gpu) {
  widgets::KernelSpeedReport report;
  report.device = QString::fromStdString(r.device);
  report.baseline = QString::fromStdString(r.baseline);
  report.gpu = gpu;
  report.copy_gbps = r.copy_gbps;
  for (const auto& row : r.rows)
    report.rows.push_back({QString("%1x%2").arg(row.shape.in).arg(row.shape.out), row.bits, row.group_size, row.batch,
                           QString::fromStdString(row.kernel), row.baseline_us, row.packed_us, row.packed_gbps,
                           row.copy_fraction, row.speedup, row.ideal_speedup});
  return report;
}

}  // namespace

KernelBenchController::KernelBenchController(QObject* parent) : QObject(parent) {}

KernelBenchController::~KernelBenchController() {
  if (thread_) {
    stop_->store(true);
    thread_->wait();
    delete thread_;
  }
}

void KernelBenchController::start(const model::ModelConfig& config) {
  if (busy()) return;
  kernels::KernelBenchOptions o;
  o.bits = {2, 3, 4, 8};
  o.group_size = 128;
  o.batches = {1, 16};
  o.lut = true;
  const bool gpu = torch::cuda::is_available();
  o.device = gpu ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (!gpu) o.repeats = 9;  // the CPU fallback is only indicative; keep the wait short
  std::vector<kernels::KernelShape> shapes;
  for (const auto& s : model::distinct_linear_shapes(config)) shapes.push_back({s.in, s.out});

  stop_ = std::make_shared<std::atomic<bool>>(false);
  auto stop = stop_;
  thread_ = QThread::create([this, shapes, o, gpu, stop] {
    try {
      const auto r = kernels::run_kernel_bench(shapes, o, [this, stop](const std::string& what) {
        if (stop->load()) throw Cancelled();
        const QString text = QString::fromStdString(what);
        QMetaObject::invokeMethod(this, [this, text] { Q_EMIT progress(text); }, Qt::QueuedConnection);
      });
      const auto report = to_report(r, gpu);
      QMetaObject::invokeMethod(this, [this, report] { done(); Q_EMIT finished(report); }, Qt::QueuedConnection);
    } catch (const Cancelled&) {
      QMetaObject::invokeMethod(this, [this] { done(); }, Qt::QueuedConnection);
    } catch (const std::exception& e) {
      const QString message = QString::fromUtf8(e.what());
      QMetaObject::invokeMethod(this, [this, message] { done(); Q_EMIT failed(message); }, Qt::QueuedConnection);
    }
  });
  thread_->start();
}

void KernelBenchController::done() {
  if (!thread_) return;
  thread_->wait();
  delete thread_;
  thread_ = nullptr;
}

}  // namespace qs::app
