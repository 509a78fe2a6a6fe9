#include "widgets/spectrum_plot.h"

#include <QToolTip>

#include "widgets/plot_support.h"

namespace qs::widgets {

SpectrumPlot::SpectrumPlot(QWidget* parent) : QCustomPlot(parent) {
  xAxis->setLabel(tr("index"));
  yAxis->setLabel(tr("singular value"));
  yAxis->setScaleType(QCPAxis::stLogarithmic);
  yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  yAxis->setNumberFormat("eb");
  // A range of a decade or two gets ticks between the powers (2, 2.5, 3, …),
  // which a bare exponent would print as equal labels; wider ones only powers.
  yAxis->setNumberPrecision(0);
  connect(yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
          [this](const QCPRange& r) { yAxis->setNumberPrecision(r.lower > 0 && r.upper / r.lower < 100 ? 1 : 0); });
  yAxis2->setVisible(true);
  yAxis2->setLabel(tr("cumulative energy"));
  yAxis2->setRange(0, 1.02);
  place_legend_below(this);
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  axisRect()->setRangeZoom(Qt::Horizontal | Qt::Vertical);
  connect(this, &QCustomPlot::mouseMove, this, &SpectrumPlot::show_readout);
  install_export_menu(this, [this] { return csv(); });
}

void SpectrumPlot::clear_series() {
  series_.clear();
  clearGraphs();
  replot();
}

void SpectrumPlot::set_series(const QVector<SpectrumSeries>& series) {
  clearGraphs();
  series_.clear();
  double lo = 0, hi = 0;
  int n_max = 0;
  for (const auto& s : series) {
    if (s.values.isEmpty()) continue;
    series_.append(s);
    QVector<double> x(s.values.size()), y, energy(s.values.size());
    double total = s.total_energy;
    if (total <= 0)
      for (double v : s.values) total += v * v;
    double acc = 0;
    for (int i = 0; i < s.values.size(); ++i) {
      x[i] = i + 1;
      acc += s.values[i] * s.values[i];
      energy[i] = total > 0 ? acc / total : 0;
      hi = std::max(hi, s.values[i]);
    }
    y = s.values;
    auto* g = addGraph(xAxis, yAxis);
    g->setName(s.label);
    g->setPen(QPen(s.color, 1.6));
    g->setData(x, y, true);
    auto* e = addGraph(xAxis, yAxis2);
    e->setName(s.label + tr(" (energy)"));
    e->setPen(QPen(s.color, 1.0, Qt::DashLine));
    e->setData(x, energy, true);
    e->removeFromLegend();
    n_max = std::max(n_max, static_cast<int>(s.values.size()));
  }
  // The range ignores values below kFloor of the largest: what a low-rank
  // branch cancels (LQER's residual) is zero up to float rounding, and would
  // squash the rest of the plot into the top decade; its curve drops off the
  // bottom instead.
  constexpr double kFloor = 1e-4;
  for (const auto& s : series_)
    for (double v : s.values)
      if (v >= hi * kFloor) lo = (lo == 0) ? v : std::min(lo, v);
  xAxis->setRange(0, n_max + 1);
  if (hi > 0) yAxis->setRange(lo / 1.5, hi * 1.5);
  replot();
}

int SpectrumPlot::rank_for_energy(int series, double fraction) const {
  const auto& s = series_.value(series);
  const auto& v = s.values;
  double total = s.total_energy;
  if (total <= 0)
    for (double x : v) total += x * x;
  double acc = 0;
  for (int i = 0; i < v.size(); ++i) {
    acc += v[i] * v[i];
    if (acc >= fraction * total) return i + 1;
  }
  return s.total_energy > 0 ? -1 : static_cast<int>(v.size());
}

QString SpectrumPlot::csv() const {
  QString out = "index";
  int n = 0;
  for (const auto& s : series_) {
    out += "," + s.label;
    n = std::max(n, static_cast<int>(s.values.size()));
  }
  out += "\n";
  for (int i = 0; i < n; ++i) {
    out += QString::number(i + 1);
    for (const auto& s : series_) out += "," + (i < s.values.size() ? QString::number(s.values[i], 'g', 9) : QString());
    out += "\n";
  }
  return out;
}

void SpectrumPlot::show_readout(QMouseEvent* e) {
  const int i = static_cast<int>(std::lround(xAxis->pixelToCoord(e->position().x()))) - 1;
  QStringList lines;
  for (int k = 0; k < series_.size(); ++k) {
    const auto& s = series_[k];
    if (i < 0 || i >= s.values.size()) continue;
    const int rank = rank_for_energy(k, 0.9);
    lines << tr("%1: σ%2 = %3, rank for 90% energy %4")
                 .arg(s.label)
                 .arg(i + 1)
                 .arg(s.values[i], 0, 'g', 4)
                 .arg(rank < 0 ? tr("over %1").arg(s.values.size()) : QString::number(rank));
  }
  if (lines.isEmpty())
    QToolTip::hideText();
  else
    QToolTip::showText(e->globalPosition().toPoint(), lines.join("\n"), this);
}

}  // namespace qs::widgets
