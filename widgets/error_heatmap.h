#pragma once
// |W − Q(W)| per (output row, input group) as a colour map without
// interpolation (interpolation invents structure). Large matrices arrive
// pooled with the max, so an outlier cell is never averaged away. Clicking a
// cell reports which rows and columns it covers and its value.

#include "widgets/qcustomplot_include.h"

#include "widgets/layer_inspection.h"

namespace qs::widgets {

class ErrorHeatmap : public QCustomPlot {
  Q_OBJECT
 public:
  explicit ErrorHeatmap(QWidget* parent = nullptr);
  void set_map(const ErrorMapData& map);
  void clear_map();
  int cell_count() const;  // rows × cols drawn
  // The description of cell (row, col) shown on click; empty outside the map.
  QString describe_cell(int row, int col) const;
  QString csv() const;

 Q_SIGNALS:
  void cell_clicked(const QString& description);

 private:
  QCPColorMap* map_;
  QCPColorScale* scale_;
  ErrorMapData data_;
};

}  // namespace qs::widgets
