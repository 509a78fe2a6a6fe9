#pragma once
// The Histogram tab: the weight distribution with the levels of the widest
// group's grid drawn over it, and every weight's position on its own group's
// grid in code units, with the whole codes marked — how much of the grid is
// used and how far weights sit from its points. Draws what it is handed.

#include <QWidget>

#include "widgets/layer_inspection.h"

class QCustomPlot;
class QLabel;
class QCheckBox;

namespace qs::widgets {

class GridHistogramView : public QWidget {
  Q_OBJECT
 public:
  explicit GridHistogramView(QWidget* parent = nullptr);
  void set_histogram(const GridHistogramData& data);

  QCustomPlot* weight_plot() const { return weights_; }
  QCustomPlot* code_plot() const { return codes_; }
  // Vertical lines drawn for grid levels / whole codes.
  int grid_lines() const { return grid_lines_; }
  int code_lines() const { return code_lines_; }
  QString csv() const;

 private:
  void redraw();

  QCustomPlot* weights_;
  QCustomPlot* codes_;
  QCheckBox* log_counts_;
  QLabel* message_;
  GridHistogramData data_;
  int grid_lines_ = 0;
  int code_lines_ = 0;
};

}  // namespace qs::widgets
