#include "widgets/error_heatmap.h"

#include <QToolTip>

#include "widgets/plot_support.h"

namespace qs::widgets {

ErrorHeatmap::ErrorHeatmap(QWidget* parent)
    : QCustomPlot(parent), map_(new QCPColorMap(xAxis, yAxis)), scale_(new QCPColorScale(this)) {
  xAxis->setLabel(tr("input group"));
  yAxis->setLabel(tr("output row"));
  yAxis->setRangeReversed(true);  // row 0 at the top, as the matrix is written
  // Cells are whole groups and rows: no ticks between them.
  for (QCPAxis* axis : {xAxis, yAxis}) {
    QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
    ticker->setTickStep(1.0);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    axis->setTicker(ticker);
  }
  plotLayout()->addElement(0, 1, scale_);
  scale_->setType(QCPAxis::atRight);
  scale_->axis()->setLabel(tr("max |W − Q(W)|"));
  map_->setColorScale(scale_);
  map_->setGradient(QCPColorGradient::gpThermal);
  map_->setInterpolate(false);
  auto* margins = new QCPMarginGroup(this);
  axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
  scale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  connect(this, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
    if (e->button() != Qt::LeftButton || data_.values.isEmpty()) return;
    int col = 0, row = 0;
    map_->data()->coordToCell(xAxis->pixelToCoord(e->position().x()), yAxis->pixelToCoord(e->position().y()), &col,
                              &row);
    const QString d = describe_cell(row, col);
    if (d.isEmpty()) return;
    QToolTip::showText(e->globalPosition().toPoint(), d, this);
    Q_EMIT cell_clicked(d);
  });
  install_export_menu(this, [this] { return csv(); });
}

void ErrorHeatmap::clear_map() {
  data_ = {};
  map_->data()->clear();
  replot();
}

void ErrorHeatmap::set_map(const ErrorMapData& m) {
  data_ = m;
  auto* d = map_->data();
  d->setSize(m.cols, m.rows);
  d->setRange(QCPRange(0, std::max(0, m.cols - 1)), QCPRange(0, std::max(0, m.rows - 1)));
  for (int r = 0; r < m.rows; ++r)
    for (int c = 0; c < m.cols; ++c) d->setCell(c, r, m.values.value(r * m.cols + c));
  map_->rescaleDataRange(true);
  xAxis->setRange(-0.5, m.cols - 0.5);
  yAxis->setRange(-0.5, m.rows - 0.5);
  xAxis->setLabel(m.groups_per_cell > 1
                      ? tr("input groups (%1 per cell, %2 columns each)").arg(m.groups_per_cell).arg(m.group_size)
                      : tr("input group (%1 columns)").arg(m.group_size));
  yAxis->setLabel(m.rows_per_cell > 1 ? tr("output rows (%1 per cell)").arg(m.rows_per_cell) : tr("output row"));
  replot();
}

int ErrorHeatmap::cell_count() const { return map_->data()->keySize() * map_->data()->valueSize(); }

QString ErrorHeatmap::describe_cell(int row, int col) const {
  if (row < 0 || col < 0 || row >= data_.rows || col >= data_.cols) return {};
  const qint64 r0 = qint64(row) * data_.rows_per_cell;
  const qint64 r1 = std::min(data_.out_features, r0 + data_.rows_per_cell) - 1;
  const qint64 c0 = qint64(col) * data_.groups_per_cell * data_.group_size;
  const qint64 c1 = std::min(data_.in_features, c0 + qint64(data_.groups_per_cell) * data_.group_size) - 1;
  return tr("rows %1–%2, columns %3–%4: max |error| %5")
      .arg(r0)
      .arg(r1)
      .arg(c0)
      .arg(c1)
      .arg(data_.values.value(row * data_.cols + col), 0, 'g', 4);
}

QString ErrorHeatmap::csv() const {
  QString out = "row_cell,col_cell,max_abs_error\n";
  for (int r = 0; r < data_.rows; ++r)
    for (int c = 0; c < data_.cols; ++c)
      out += QStringLiteral("%1,%2,%3\n").arg(r).arg(c).arg(data_.values.value(r * data_.cols + c), 0, 'g', 9);
  return out;
}

}  // namespace qs::widgets
