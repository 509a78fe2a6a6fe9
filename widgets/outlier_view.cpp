#include "widgets/outlier_view.h"

#include "widgets/qcustomplot_include.h"

#include <QCheckBox>
#include <QLabel>
#include <QVBoxLayout>
#include <algorithm>
#include <numeric>

#include "widgets/plot_support.h"

namespace qs::widgets {
namespace {
constexpr int kTopK = 8;
}

OutlierView::OutlierView(QWidget* parent)
    : QWidget(parent),
      plot_(new QCustomPlot(this)),
      sorted_(new QCheckBox(tr("Sort by activation max"), this)),
      top_(new QLabel(this)) {
  plot_->xAxis->setLabel(tr("input channel"));
  plot_->yAxis->setLabel(tr("activation |x|"));
  plot_->yAxis2->setVisible(true);
  plot_->yAxis2->setLabel(tr("weight max |W[:, j]|"));
  place_legend_below(plot_);
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  top_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  top_->setWordWrap(true);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(plot_, 1);
  auto* row = new QHBoxLayout;
  row->addWidget(sorted_);
  row->addWidget(top_, 1);
  layout->addLayout(row);
  connect(sorted_, &QCheckBox::toggled, this, &OutlierView::redraw);
  install_export_menu(plot_, [this] { return csv(); });
  install_hover_readout(plot_);
}

void OutlierView::clear() {
  layer_ = {};
  redraw();
}

void OutlierView::set_inspection(const LayerInspection& layer) {
  layer_ = layer;
  redraw();
}

QVector<int> OutlierView::top_channels(int k) const {
  const auto& key = layer_.act_abs_max.isEmpty() ? layer_.weight_abs_max : layer_.act_abs_max;
  QVector<int> order(key.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key[a] > key[b]; });
  order.resize(std::min<int>(k, static_cast<int>(order.size())));
  return order;
}

void OutlierView::redraw() {
  plot_->clearGraphs();
  const auto& key = layer_.act_abs_max.isEmpty() ? layer_.weight_abs_max : layer_.act_abs_max;
  const int n = static_cast<int>(key.size());
  QVector<int> order = top_channels(n);
  if (!sorted_->isChecked()) std::iota(order.begin(), order.end(), 0);
  QVector<double> x(n);
  std::iota(x.begin(), x.end(), 0.0);
  // Activations as impulses, so outlier channels stand out as spikes; the
  // weight column maxima as a faint line on their own axis.
  double axis_max[2] = {0, 0};
  auto add = [&](const QVector<double>& v, const QString& name, const QColor& color, QCPAxis* axis,
                 QCPGraph::LineStyle style) {
    if (v.size() != n) return;
    QVector<double> y(n);
    for (int i = 0; i < n; ++i) y[i] = v[order[i]];
    auto* g = plot_->addGraph(plot_->xAxis, axis);
    g->setName(name);
    g->setPen(QPen(color, 1.2));
    g->setLineStyle(style);
    g->setData(x, y, true);
    double& t = axis_max[axis == plot_->yAxis2 ? 1 : 0];
    t = std::max(t, *std::max_element(y.begin(), y.end()));
  };
  add(layer_.act_abs_max, tr("activation max |x|"), QColor(214, 39, 40), plot_->yAxis, QCPGraph::lsImpulse);
  add(layer_.act_mean_abs, tr("activation mean |x|"), QColor(255, 127, 14), plot_->yAxis, QCPGraph::lsImpulse);
  add(layer_.weight_abs_max, tr("weight max |W|"), QColor(31, 119, 180, 150), plot_->yAxis2, QCPGraph::lsLine);
  plot_->yAxis->setRange(0, axis_max[0] > 0 ? axis_max[0] * 1.05 : 1);
  plot_->yAxis2->setRange(0, axis_max[1] > 0 ? axis_max[1] * 1.05 : 1);
  plot_->xAxis->setRange(-1, n);
  plot_->xAxis->setLabel(sorted_->isChecked() ? tr("rank (channels by activation max)") : tr("input channel"));
  QStringList top;
  for (int c : top_channels(kTopK)) top << QStringLiteral("%1 (%2)").arg(c).arg(key[c], 0, 'g', 3);
  top_->setText(n ? tr("Top channels: %1").arg(top.join(", ")) : tr("No channel statistics cached for this layer."));
  plot_->replot();
}

QString OutlierView::csv() const {
  QString out = "channel,act_abs_max,act_mean_abs,weight_abs_max\n";
  const int n = static_cast<int>(std::max({layer_.act_abs_max.size(), layer_.weight_abs_max.size()}));
  for (int i = 0; i < n; ++i)
    out += QStringLiteral("%1,%2,%3,%4\n")
               .arg(i)
               .arg(i < layer_.act_abs_max.size() ? QString::number(layer_.act_abs_max[i], 'g', 9) : QString())
               .arg(i < layer_.act_mean_abs.size() ? QString::number(layer_.act_mean_abs[i], 'g', 9) : QString())
               .arg(i < layer_.weight_abs_max.size() ? QString::number(layer_.weight_abs_max[i], 'g', 9) : QString());
  return out;
}

}  // namespace qs::widgets
