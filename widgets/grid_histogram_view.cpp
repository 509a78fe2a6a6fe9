#include "widgets/grid_histogram_view.h"

#include <QCheckBox>
#include <QLabel>
#include <QVBoxLayout>
#include <algorithm>

#include "widgets/plot_support.h"
#include "widgets/qcustomplot_include.h"

namespace qs::widgets {
namespace {

// Bars as a step line: thousands of bins stay cheap to draw.
QCPGraph* add_steps(QCustomPlot* plot, const QVector<double>& counts, double lo, double hi, const QColor& color,
                    const QString& name) {
  const int n = static_cast<int>(counts.size());
  QVector<double> x(n), y(n);
  const double width = (hi - lo) / std::max(1, n);
  for (int i = 0; i < n; ++i) {
    x[i] = lo + (i + 0.5) * width;
    y[i] = counts[i];
  }
  auto* g = plot->addGraph();
  g->setName(name);
  g->setLineStyle(QCPGraph::lsStepCenter);
  g->setPen(QPen(color, 1.2));
  g->setBrush(QColor(color.red(), color.green(), color.blue(), 60));
  g->setData(x, y, true);
  return g;
}

int add_vertical_lines(QCustomPlot* plot, const QVector<double>& xs, const QPen& pen) {
  for (double x : xs) {
    auto* line = new QCPItemStraightLine(plot);
    line->point1->setCoords(x, 0);
    line->point2->setCoords(x, 1);
    line->setPen(pen);
  }
  return static_cast<int>(xs.size());
}

void counts_axis(QCustomPlot* plot, bool log, double max_count) {
  plot->yAxis->setLabel(QObject::tr("weights"));
  if (log) {
    plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
    plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    plot->yAxis->setRange(0.8, std::max(10.0, max_count * 2));
  } else {
    plot->yAxis->setScaleType(QCPAxis::stLinear);
    plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    plot->yAxis->setRange(0, std::max(1.0, max_count * 1.05));
  }
}

}  // namespace

GridHistogramView::GridHistogramView(QWidget* parent)
    : QWidget(parent),
      weights_(new QCustomPlot(this)),
      codes_(new QCustomPlot(this)),
      log_counts_(new QCheckBox(tr("Log counts"), this)),
      message_(new QLabel(this)) {
  log_counts_->setChecked(true);
  message_->setWordWrap(true);
  for (auto* p : {weights_, codes_}) {
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    p->axisRect()->setRangeZoom(Qt::Horizontal);
    p->axisRect()->setRangeDrag(Qt::Horizontal);
    install_export_menu(p, [this] { return csv(); });
    install_hover_readout(p);
  }
  weights_->xAxis->setLabel(tr("weight value"));
  codes_->xAxis->setLabel(tr("position on the group's grid (code units, before rounding)"));
  QSharedPointer<QCPAxisTickerFixed> whole_codes(new QCPAxisTickerFixed);
  whole_codes->setTickStep(1.0);
  whole_codes->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  codes_->xAxis->setTicker(whole_codes);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(message_);
  layout->addWidget(weights_, 1);
  layout->addWidget(codes_, 1);
  layout->addWidget(log_counts_);
  connect(log_counts_, &QCheckBox::toggled, this, &GridHistogramView::redraw);
  redraw();
}

void GridHistogramView::set_histogram(const GridHistogramData& data) {
  data_ = data;
  redraw();
}

void GridHistogramView::redraw() {
  for (auto* p : {weights_, codes_}) {
    p->clearGraphs();
    p->clearItems();
  }
  grid_lines_ = code_lines_ = 0;
  const bool has = !data_.empty();
  weights_->setVisible(has);
  codes_->setVisible(has);
  log_counts_->setVisible(has);
  if (!has) {
    message_->setText(tr("No histogram for this layer: it was analysed by an older QuantScope, or kept in FP."));
    return;
  }
  message_->setText(tr("Top: all weights, with the levels of the widest grid (row %1, group %2), where rounding "
                       "errs most. Bottom: each weight's position on its own group's grid; mass away from the "
                       "whole codes is rounding error, empty end codes are grid left unused.")
                        .arg(data_.grid_row)
                        .arg(data_.grid_group));
  const bool log = log_counts_->isChecked();
  add_steps(weights_, data_.weight_counts, data_.weight_lo, data_.weight_hi, QColor(31, 119, 180), tr("weights"));
  grid_lines_ = add_vertical_lines(weights_, data_.grid, QPen(QColor(214, 39, 40, 160), 1, Qt::DashLine));
  const double lo = std::min(data_.weight_lo, data_.grid.isEmpty() ? data_.weight_lo : data_.grid.front());
  const double hi = std::max(data_.weight_hi, data_.grid.isEmpty() ? data_.weight_hi : data_.grid.back());
  const double pad = 0.02 * (hi - lo);
  weights_->xAxis->setRange(lo - pad, hi + pad);
  counts_axis(weights_, log, *std::max_element(data_.weight_counts.begin(), data_.weight_counts.end()));

  add_steps(codes_, data_.code_counts, -0.5, data_.levels - 0.5, QColor(44, 160, 44), tr("positions"));
  QVector<double> whole(data_.levels);
  for (int k = 0; k < data_.levels; ++k) whole[k] = k;
  // At 8 bits 256 lines would hide the data: mark every 16th code instead.
  if (data_.levels > 32) whole.erase(std::remove_if(whole.begin(), whole.end(), [](double k) { return int(k) % 16; }), whole.end());
  code_lines_ = add_vertical_lines(codes_, whole, QPen(QColor(120, 120, 120, 140), 1, Qt::DotLine));
  codes_->xAxis->setRange(-0.6, data_.levels - 0.4);
  counts_axis(codes_, log,
              data_.code_counts.isEmpty() ? 1.0 : *std::max_element(data_.code_counts.begin(), data_.code_counts.end()));
  weights_->replot(QCustomPlot::rpQueuedReplot);
  codes_->replot(QCustomPlot::rpQueuedReplot);
}

QString GridHistogramView::csv() const {
  QString s = "series,x,count\n";
  const int n = static_cast<int>(data_.weight_counts.size());
  const double wb = (data_.weight_hi - data_.weight_lo) / std::max(1, n);
  for (int i = 0; i < n; ++i)
    s += QString("weight,%1,%2\n").arg(data_.weight_lo + (i + 0.5) * wb, 0, 'g', 8).arg(data_.weight_counts[i]);
  const int m = static_cast<int>(data_.code_counts.size());
  const double cb = static_cast<double>(data_.levels) / std::max(1, m);
  for (int i = 0; i < m; ++i) s += QString("code_position,%1,%2\n").arg(-0.5 + (i + 0.5) * cb, 0, 'g', 8).arg(data_.code_counts[i]);
  for (double g : data_.grid) s += QString("grid_level,%1,\n").arg(g, 0, 'g', 8);
  return s;
}

}  // namespace qs::widgets
