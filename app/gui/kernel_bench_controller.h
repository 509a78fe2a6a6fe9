#pragma once
// Runs the kernel benchmark (kernels/bench) for the open model's linear shapes
// on a worker thread, on the GPU when there is one and on the CPU fallback
// otherwise, and hands the kernel speed panel its report.

#include <QObject>
#include <atomic>
#include <memory>

#include "core/model/model_config.h"
#include "widgets/kernel_speed_view.h"

class QThread;

namespace qs::app {

class KernelBenchController : public QObject {
  Q_OBJECT
 public:
  explicit KernelBenchController(QObject* parent = nullptr);
  // Stops a running benchmark at its next configuration and waits for it.
  ~KernelBenchController() override;

  bool busy() const { return thread_ != nullptr; }
  // Bits 2, 3, 4, 8 at group 128, batch 1 and 16 (and the LUT kernel at batch 1),
  // for each distinct shape of a block.
  void start(const model::ModelConfig& config);

 Q_SIGNALS:
  void progress(const QString& what);
  void finished(const qs::widgets::KernelSpeedReport& report);
  void failed(const QString& message);

 private:
  void done();

  QThread* thread_ = nullptr;
  std::shared_ptr<std::atomic<bool>> stop_;
};

}  // namespace qs::app
