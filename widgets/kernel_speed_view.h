#pragma once
// The kernel speed panel: per linear shape and bit width, the dense baseline's
// time, the packed kernel's time, its bandwidth and speed-up, as a table and
// as bars of speed-up against the byte-ratio ideal. Says plainly when the
// figures are of the CPU fallback because there is no GPU. Draws what it is handed.

#include <QString>
#include <QVector>
#include <QWidget>

class QCustomPlot;
class QLabel;
class QPushButton;
class QTableWidget;

namespace qs::widgets {

struct KernelSpeedRow {
  QString shape;          // "4096x11008" (input x output features)
  int bits = 0;
  qint64 group_size = 0;
  qint64 batch = 0;
  QString kernel;         // "cuda-gemv", "cpu-fused", ...
  double baseline_us = 0;
  double packed_us = 0;
  double packed_gbps = 0;
  double copy_fraction = 0;
  double speedup = 0;
  double ideal_speedup = 0;  // dense bytes over packed bytes
};

struct KernelSpeedReport {
  QString device;    // "NVIDIA H100 80GB HBM3", "cpu"
  QString baseline;  // "FP16 cuBLAS (at::mm)"
  bool gpu = false;
  double copy_gbps = 0;
  QVector<KernelSpeedRow> rows;
};

class KernelSpeedView : public QWidget {
  Q_OBJECT
 public:
  explicit KernelSpeedView(QWidget* parent = nullptr);

  void set_report(const KernelSpeedReport& report);
  void set_running(const QString& what);
  void set_failed(const QString& message);

  int table_rows() const;
  int bars() const;
  QString headline() const;
  QCustomPlot* plot() const { return plot_; }

 Q_SIGNALS:
  void run_requested();

 private:
  QString csv() const;

  QLabel* headline_;
  QPushButton* run_;
  QTableWidget* table_;
  QCustomPlot* plot_;
  KernelSpeedReport report_;
};

}  // namespace qs::widgets
