#pragma once
// Per-input-channel magnitudes of one linear: activation |x| max and mean from
// the calibration inputs, and the weight column |W| max, in channel order or
// sorted by activation max, with the top channels listed.

#include <QWidget>

#include "widgets/layer_inspection.h"

class QCheckBox;
class QCustomPlot;
class QLabel;

namespace qs::widgets {

class OutlierView : public QWidget {
  Q_OBJECT
 public:
  explicit OutlierView(QWidget* parent = nullptr);
  void set_inspection(const LayerInspection& layer);
  void clear();
  QCustomPlot* plot() const { return plot_; }
  // Channels by descending activation max (weight max when there are no
  // activation statistics), the first `k`.
  QVector<int> top_channels(int k) const;
  QString csv() const;

 private:
  void redraw();

  QCustomPlot* plot_;
  QCheckBox* sorted_;
  QLabel* top_;
  LayerInspection layer_;
};

}  // namespace qs::widgets
