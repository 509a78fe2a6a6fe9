#include "widgets/kernel_speed_view.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <map>

#include "widgets/plot_support.h"
#include "widgets/qcustomplot_include.h"

namespace qs::widgets {
namespace {

const QStringList kColumns = {"k x n", "bits", "batch", "speed-up", "ideal", "dense µs",
                              "packed µs", "GB/s", "copy %", "kernel", "group"};

QColor series_color(int bits, bool lut) {
  QColor c;
  switch (bits) {
    case 2: c = QColor(214, 39, 40); break;
    case 3: c = QColor(255, 127, 14); break;
    case 4: c = QColor(31, 119, 180); break;
    default: c = QColor(44, 160, 44); break;
  }
  return lut ? c.lighter(150) : c;
}

bool is_lut(const KernelSpeedRow& row) { return row.kernel.endsWith("lut"); }

}  // namespace

KernelSpeedView::KernelSpeedView(QWidget* parent)
    : QWidget(parent),
      headline_(new QLabel(this)),
      run_(new QPushButton(tr("Benchmark kernels"), this)),
      table_(new QTableWidget(0, static_cast<int>(kColumns.size()), this)),
      plot_(new QCustomPlot(this)) {
  auto* layout = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  headline_->setObjectName("kernelHeadline");
  headline_->setWordWrap(true);
  headline_->setText(tr("No kernel timings yet: open a model and press Benchmark kernels."));
  top->addWidget(headline_, 1);
  top->addWidget(run_);
  layout->addLayout(top);
  connect(run_, &QPushButton::clicked, this, &KernelSpeedView::run_requested);

  table_->setHorizontalHeaderLabels(kColumns);
  table_->verticalHeader()->setVisible(false);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 6);
  // Speed-ups are ratios: a log axis shows 0.5x and 2x as far from parity,
  // and bars grow up or down from 1x.
  plot_->yAxis->setLabel(tr("speed-up over the dense baseline"));
  plot_->yAxis->setScaleType(QCPAxis::stLogarithmic);
  plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  plot_->yAxis->setNumberFormat("gb");
  plot_->xAxis->setTickLabelRotation(-30);
  plot_->xAxis->grid()->setVisible(false);
  plot_->xAxis->setLabel(tr("linear shape (k x n), batch"));
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  install_export_menu(plot_, [this] { return csv(); });
  place_legend_below(plot_);
  plot_->legend->setWrap(5);  // up to eight bar series plus the ideal markers: two rows
  plot_->legend->setVisible(false);

  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(table_);
  split->addWidget(plot_);
  split->setStretchFactor(1, 2);
  layout->addWidget(split, 1);
}

void KernelSpeedView::set_running(const QString& what) {
  run_->setEnabled(false);
  headline_->setText(tr("Timing the kernels: %1").arg(what));
}

void KernelSpeedView::set_failed(const QString& message) {
  run_->setEnabled(true);
  headline_->setText(tr("Kernel benchmark failed: %1").arg(message));
}

void KernelSpeedView::set_report(const KernelSpeedReport& report) {
  report_ = report;
  run_->setEnabled(true);
  headline_->setText(report.gpu ? tr("%1 — baseline %2, copy bandwidth %3 GB/s")
                                      .arg(report.device, report.baseline)
                                      .arg(report.copy_gbps, 0, 'f', 0)
                                : tr("No GPU: these are the CPU fallback's timings against %1 on this machine, "
                                     "not what the CUDA kernels do. Copy bandwidth %2 GB/s.")
                                      .arg(report.baseline)
                                      .arg(report.copy_gbps, 0, 'f', 1));

  table_->setRowCount(static_cast<int>(report.rows.size()));
  for (int r = 0; r < report.rows.size(); ++r) {
    const auto& row = report.rows[r];
    const QStringList cells = {row.shape,
                               QString::number(row.bits),
                               QString::number(row.batch),
                               QString::number(row.speedup, 'f', 2) + "x",
                               QString::number(row.ideal_speedup, 'f', 2) + "x",
                               QString::number(row.baseline_us, 'f', 2),
                               QString::number(row.packed_us, 'f', 2),
                               QString::number(row.packed_gbps, 'f', 1),
                               QString::number(100 * row.copy_fraction, 'f', 1),
                               row.kernel,
                               QString::number(row.group_size)};
    for (int c = 0; c < cells.size(); ++c) {
      auto* item = new QTableWidgetItem(cells[c]);
      if (c != 0 && c != 9) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
      table_->setItem(r, c, item);
    }
  }

  plot_->clearPlottables();
  plot_->clearItems();
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  // One bar series per bit width and kernel family, side by side in each slot.
  std::map<std::pair<int, bool>, std::pair<QVector<double>, QVector<double>>> by_series;
  QVector<double> ideal_x, ideal_y;
  QMap<QString, int> slot;  // "576x1536 b16" → x position
  for (const auto& row : report.rows) {
    const QString key = row.shape + " b" + QString::number(row.batch);
    if (!slot.contains(key)) {
      const int x = static_cast<int>(slot.size());
      slot.insert(key, x);
      ticker->addTick(x, key);
    }
  }
  for (const auto& row : report.rows) by_series[{row.bits, is_lut(row)}];
  QList<std::pair<int, bool>> series;
  for (const auto& [key, unused] : by_series) series.push_back(key);
  const double width = 0.8 / std::max<qsizetype>(1, series.size());
  for (const auto& row : report.rows) {
    const double x = slot.value(row.shape + " b" + QString::number(row.batch)) - 0.4 + width / 2 +
                     width * static_cast<double>(series.indexOf({row.bits, is_lut(row)}));
    auto& xy = by_series[{row.bits, is_lut(row)}];
    xy.first.push_back(x);
    xy.second.push_back(row.speedup - 1.0);  // drawn from the base value 1x
    ideal_x.push_back(x);
    ideal_y.push_back(row.ideal_speedup);
  }
  double top = 1.0, bottom = 1.0;
  for (const auto& [key, xy] : by_series) {
    auto* bars = new QCPBars(plot_->xAxis, plot_->yAxis);
    bars->setName(key.second ? tr("W%1 LUT").arg(key.first) : tr("W%1").arg(key.first));
    bars->setWidth(width * 0.9);
    bars->setBrush(series_color(key.first, key.second));
    bars->setPen(Qt::NoPen);
    bars->setBaseValue(1.0);
    bars->setData(xy.first, xy.second);
    for (double v : xy.second) top = std::max(top, 1.0 + v), bottom = std::min(bottom, 1.0 + v);
  }
  auto* ideal = plot_->addGraph();
  ideal->setName(tr("ideal (byte ratio)"));
  ideal->setLineStyle(QCPGraph::lsNone);
  ideal->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssPlus, Qt::black, 9));
  ideal->setData(ideal_x, ideal_y);
  for (double v : ideal_y) top = std::max(top, v);
  auto* parity = new QCPItemStraightLine(plot_);
  parity->point1->setCoords(0, 1);
  parity->point2->setCoords(1, 1);
  parity->setPen(QPen(Qt::gray, 1, Qt::DashLine));
  plot_->xAxis->setTicker(ticker);
  plot_->xAxis->setRange(-0.6, std::max<double>(0.6, static_cast<double>(slot.size()) - 0.4));
  plot_->yAxis->setRange(bottom / 1.5, top * 1.5);
  plot_->legend->setVisible(!report.rows.isEmpty());
  plot_->replot();
}

int KernelSpeedView::table_rows() const { return table_->rowCount(); }

int KernelSpeedView::bars() const {
  int n = 0;
  for (int i = 0; i < plot_->plottableCount(); ++i)
    if (auto* b = qobject_cast<QCPBars*>(plot_->plottable(i))) n += b->data()->size();
  return n;
}

QString KernelSpeedView::headline() const { return headline_->text(); }

QString KernelSpeedView::csv() const {
  QString out = "shape,bits,group,batch,kernel,baseline_us,packed_us,gbps,copy_fraction,speedup,ideal\n";
  for (const auto& r : report_.rows)
    out += QString("%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11\n")
               .arg(r.shape)
               .arg(r.bits)
               .arg(r.group_size)
               .arg(r.batch)
               .arg(r.kernel)
               .arg(r.baseline_us)
               .arg(r.packed_us)
               .arg(r.packed_gbps)
               .arg(r.copy_fraction)
               .arg(r.speedup)
               .arg(r.ideal_speedup);
  return out;
}

}  // namespace qs::widgets
