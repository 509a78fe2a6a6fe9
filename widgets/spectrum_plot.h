#pragma once
// Singular values (log scale, by index) of one or more matrices, each with its
// cumulative energy Σσ²/Σσ² on the right axis: how much of W, of its
// quantization error E, or of the input-weighted error a rank-k correction
// (LQER, RILQ) could capture.

#include "widgets/qcustomplot_include.h"

#include <QVector>

namespace qs::widgets {

struct SpectrumSeries {
  QString label;
  QVector<double> values;  // descending
  QColor color;
  double total_energy = 0;  // Σσ² of the whole spectrum when `values` is its top only; 0: Σ values²
};

class SpectrumPlot : public QCustomPlot {
  Q_OBJECT
 public:
  explicit SpectrumPlot(QWidget* parent = nullptr);
  void set_series(const QVector<SpectrumSeries>& series);
  void clear_series();
  // Rank needed for `fraction` of the energy of series i (for the read-out);
  // -1 when the values shown hold less than that fraction.
  int rank_for_energy(int series, double fraction) const;
  QString csv() const;

 private:
  void show_readout(QMouseEvent* e);

  QVector<SpectrumSeries> series_;
};

}  // namespace qs::widgets
