#include "widgets/run_view.h"

#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QSplitter>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <limits>

#include "widgets/plot_support.h"
#include "widgets/qcustomplot_include.h"

namespace qs::widgets {
namespace {

void log_axis(QCPAxis* axis, const QString& label) {
  axis->setLabel(label);
  axis->setScaleType(QCPAxis::stLogarithmic);
  axis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  axis->setNumberFormat("gb");
}

// Blocks are whole numbers; a refinement alone has two points, the model as
// quantized and as refined, and says so.
void block_axis(QCPAxis* axis, int blocks, bool refinement_only) {
  if (refinement_only) {
    auto ticks = QSharedPointer<QCPAxisTickerText>::create();
    ticks->addTick(blocks, RunView::tr("as quantized"));
    ticks->addTick(blocks + 1, RunView::tr("refined"));
    axis->setTicker(ticks);
    axis->setLabel(RunView::tr("model"));
    return;
  }
  auto ticks = QSharedPointer<QCPAxisTickerFixed>::create();
  ticks->setTickStep(1);
  ticks->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  axis->setTicker(ticks);
  axis->setLabel(RunView::tr("blocks quantized"));
}

// The error series are plotted at "blocks quantized", one past the block's
// index, and tabled by the block's index.
QString block_error_table(const QString& column, const QVector<double>& x, const QVector<double>& y) {
  QString s = "\nblock," + column + "\n";
  for (int i = 0; i < x.size(); ++i) s += QString("%1,%2\n").arg(x[i] - 1).arg(y[i], 0, 'g', 10);
  return s;
}

QColor series_color(int i) {
  static const QColor palette[] = {QColor(31, 119, 180), QColor(255, 127, 14),  QColor(44, 160, 44),
                                   QColor(214, 39, 40),  QColor(148, 103, 189), QColor(140, 86, 75)};
  return palette[i % 6];
}

}  // namespace

RunView::RunView(QWidget* parent)
    : QWidget(parent),
      title_(new QLabel(this)),
      progress_(new QProgressBar(this)),
      ppl_plot_(new QCustomPlot(this)),
      kl_plot_(new QCustomPlot(this)),
      loss_plot_(new QCustomPlot(this)),
      experts_plot_(new QCustomPlot(this)),
      experts_map_(new QCPColorMap(experts_plot_->xAxis, experts_plot_->yAxis)),
      log_(new QPlainTextEdit(this)) {
  auto* layout = new QVBoxLayout(this);
  title_->setObjectName("runTitle");
  title_->setText(tr("No run yet: choose a method in the Method dock and press Run."));
  layout->addWidget(title_);
  layout->addWidget(progress_);

  block_axis(ppl_plot_->xAxis, 0, false);
  log_axis(ppl_plot_->yAxis, tr("perplexity (live slice)"));
  ppl_plot_->yAxis2->setVisible(true);
  log_axis(ppl_plot_->yAxis2, tr("block output rel. MSE"));
  auto* ppl = ppl_plot_->addGraph(ppl_plot_->xAxis, ppl_plot_->yAxis);
  ppl->setName(tr("perplexity"));
  ppl->setPen(QPen(QColor(31, 119, 180), 2));
  ppl->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 6));
  auto* fp = ppl_plot_->addGraph(ppl_plot_->xAxis, ppl_plot_->yAxis);
  fp->setName(tr("FP"));
  fp->setPen(QPen(Qt::gray, 1.5, Qt::DashLine));
  auto* mse = ppl_plot_->addGraph(ppl_plot_->xAxis, ppl_plot_->yAxis2);
  mse->setName(tr("block output rel. MSE"));
  mse->setLineStyle(QCPGraph::lsNone);
  mse->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, QColor(214, 39, 40), 6));
  auto* fp_mse = ppl_plot_->addGraph(ppl_plot_->xAxis, ppl_plot_->yAxis2);
  fp_mse->setName(tr("rel. MSE against the FP model's output"));
  fp_mse->setLineStyle(QCPGraph::lsNone);
  fp_mse->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssTriangle, QColor(255, 127, 14), 7));
  fp_mse->removeFromLegend();  // most methods do not measure it
  place_legend_below(ppl_plot_);
  ppl_plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  install_export_menu(ppl_plot_, [this] { return perplexity_csv(); });
  install_hover_readout(ppl_plot_);

  block_axis(kl_plot_->xAxis, 0, false);
  log_axis(kl_plot_->yAxis, tr("KL(FP || quantized) per token, nats"));
  auto* kl_mean = kl_plot_->addGraph();
  kl_mean->setName(tr("mean over tokens"));
  kl_mean->setPen(QPen(QColor(148, 103, 189), 2));
  kl_mean->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 6));
  auto* kl_p99 = kl_plot_->addGraph();
  kl_p99->setName(tr("99th percentile token"));
  kl_p99->setPen(QPen(QColor(148, 103, 189), 1.2, Qt::DashLine));
  place_legend_below(kl_plot_);
  kl_plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  install_export_menu(kl_plot_, [this] { return divergence_csv(); });
  install_hover_readout(kl_plot_);

  loss_plot_->xAxis->setLabel(tr("optimizer step"));
  log_axis(loss_plot_->yAxis, tr("training loss"));
  loss_plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  install_export_menu(loss_plot_, [this] { return loss_csv(); });
  install_hover_readout(loss_plot_);
  place_legend_below(loss_plot_);
  loss_plot_->legend->setVisible(false);

  experts_plot_->xAxis->setLabel(tr("expert"));
  experts_plot_->yAxis->setLabel(tr("block"));
  auto* scale = new QCPColorScale(experts_plot_);
  experts_plot_->plotLayout()->addElement(0, 1, scale);
  scale->setLabel(tr("calibration tokens"));
  scale->setDataScaleType(QCPAxis::stLogarithmic);
  experts_map_->setColorScale(scale);
  QCPColorGradient gradient(QCPColorGradient::gpThermal);
  gradient.setNanHandling(QCPColorGradient::nhTransparent);
  experts_map_->setGradient(gradient);
  experts_map_->setInterpolate(false);
  experts_plot_->setVisible(false);

  log_->setReadOnly(true);
  log_->setMaximumBlockCount(5000);
  auto* live = new QSplitter(Qt::Horizontal, this);
  live->addWidget(ppl_plot_);
  live->addWidget(kl_plot_);
  live->setStretchFactor(0, 3);
  live->setStretchFactor(1, 2);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(live);
  split->addWidget(loss_plot_);
  split->addWidget(experts_plot_);
  split->addWidget(log_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  split->setStretchFactor(2, 1);
  layout->addWidget(split, 1);
  loss_plot_->setVisible(false);
}

void RunView::begin(int blocks, const QString& title, bool refinement_only) {
  blocks_ = blocks;
  refinement_only_ = refinement_only;
  fp_ppl_ = 0;
  ppl_x_.clear();
  ppl_y_.clear();
  mse_x_.clear();
  mse_y_.clear();
  fp_mse_x_.clear();
  fp_mse_y_.clear();
  ppl_plot_->graph(3)->removeFromLegend();
  for (int i = 0; i < 4; ++i) ppl_plot_->graph(i)->data()->clear();
  for (int i = 0; i < 2; ++i) kl_plot_->graph(i)->data()->clear();
  kl_plot_->replot(QCustomPlot::rpQueuedReplot);
  loss_plot_->clearGraphs();
  loss_plot_->legend->setVisible(false);
  loss_graphs_.clear();
  loss_plot_->setVisible(false);
  experts_map_->data()->clear();
  experts_plot_->setVisible(false);
  starved_ = 0;
  log_->clear();
  title_->setText(title);
  progress_->setRange(0, blocks);
  progress_->setValue(0);
  block_axis(ppl_plot_->xAxis, blocks, refinement_only);
  block_axis(kl_plot_->xAxis, blocks, refinement_only);
  set_block_range(refinement_only ? blocks - 1.5 : -0.5, refinement_only ? blocks + 1.5 : blocks + 0.5);
  redraw_perplexity();
}

void RunView::set_block_range(double lo, double hi) {
  ppl_plot_->xAxis->setRange(lo, hi);
  kl_plot_->xAxis->setRange(lo, hi);
  kl_plot_->replot(QCustomPlot::rpQueuedReplot);
}

double RunView::expert_tokens(int block, int expert) const {
  auto* data = experts_map_->data();
  if (expert < 0 || expert >= data->keySize() || block < 0 || block >= data->valueSize())
    return std::numeric_limits<double>::quiet_NaN();
  return data->cell(expert, block);
}

void RunView::set_fp_perplexity(double ppl) {
  fp_ppl_ = ppl;
  if (!refinement_only_) {  // the curve's start: nothing quantized yet
    ppl_x_.prepend(0);
    ppl_y_.prepend(ppl);
  }
  redraw_perplexity();
}

void RunView::add_block(const BlockPoint& b) {
  if (!b.expert_tokens.isEmpty() && b.layer < blocks_) {
    auto* data = experts_map_->data();
    const int experts = static_cast<int>(b.expert_tokens.size());
    if (data->keySize() != experts || data->valueSize() != blocks_) {
      data->setSize(experts, blocks_);
      data->setRange(QCPRange(0, experts - 1), QCPRange(0, blocks_ - 1));
      data->fill(std::numeric_limits<double>::quiet_NaN());
    }
    for (int e = 0; e < experts; ++e) {
      // A log scale has no 0: an expert no token reached sits at its floor.
      data->setCell(e, b.layer, std::max(0.5, b.expert_tokens[e]));
      if (b.expert_tokens[e] < b.starved_below) ++starved_;
    }
    experts_map_->rescaleDataRange(true);
    experts_plot_->rescaleAxes();
    experts_plot_->xAxis->setRange(-0.5, experts - 0.5);
    experts_plot_->yAxis->setRange(-0.5, blocks_ - 0.5);
    experts_plot_->xAxis->setLabel(tr("expert (%1 of the experts seen so far below %2 tokens, their input width)")
                                       .arg(starved_)
                                       .arg(b.starved_below));
    experts_plot_->setVisible(true);
    experts_plot_->replot(QCustomPlot::rpQueuedReplot);
  }
  const int x = b.layer + 1;
  if (x > blocks_)  // past the last block: the model after a whole-model refinement
    set_block_range(ppl_plot_->xAxis->range().lower, x + 0.5);
  if (!std::isnan(b.ppl)) {
    ppl_x_.append(x);
    ppl_y_.append(b.ppl);
  }
  if (b.output_rel_mse > 0) {
    mse_x_.append(x);
    mse_y_.append(b.output_rel_mse);
  }
  if (b.fp_rel_mse > 0) {
    if (fp_mse_x_.isEmpty()) ppl_plot_->graph(3)->addToLegend();
    fp_mse_x_.append(x);
    fp_mse_y_.append(b.fp_rel_mse);
  }
  // A log axis cannot show 0: a block that changed nothing sits at the floor.
  if (!std::isnan(b.mean_kl)) {
    kl_plot_->graph(0)->addData(x, std::max(b.mean_kl, 1e-9));
    kl_plot_->graph(1)->addData(x, std::max(b.p99_kl, 1e-9));
    bool found = false;
    const auto range = kl_plot_->graph(1)->getValueRange(found);
    const auto low = kl_plot_->graph(0)->getValueRange(found);
    if (found) kl_plot_->yAxis->setRange(low.lower / 2, range.upper * 2);
    kl_plot_->replot(QCustomPlot::rpQueuedReplot);
  }
  progress_->setValue(x);
  redraw_perplexity();
}

void RunView::redraw_perplexity() {
  ppl_plot_->graph(0)->setData(ppl_x_, ppl_y_, true);
  if (fp_ppl_ > 0) ppl_plot_->graph(1)->setData({-0.5, blocks_ + 1.5}, {fp_ppl_, fp_ppl_}, true);
  ppl_plot_->graph(2)->setData(mse_x_, mse_y_, true);
  ppl_plot_->graph(3)->setData(fp_mse_x_, fp_mse_y_, true);
  if (!ppl_y_.isEmpty()) {
    const auto [lo, hi] = std::minmax_element(ppl_y_.begin(), ppl_y_.end());
    const double low = fp_ppl_ > 0 ? std::min(*lo, fp_ppl_) : *lo;  // the FP line stays in view
    ppl_plot_->yAxis->setRange(low / 1.2, *hi * 1.2);
  }
  if (!mse_y_.isEmpty() || !fp_mse_y_.isEmpty()) {
    auto errors = mse_y_ + fp_mse_y_;
    const auto [lo, hi] = std::minmax_element(errors.begin(), errors.end());
    ppl_plot_->yAxis2->setRange(*lo / 2, *hi * 2);
  }
  ppl_plot_->replot(QCustomPlot::rpQueuedReplot);
}

void RunView::add_loss_point(const QString& series, qint64 step, double loss) {
  if (!(loss > 0)) return;  // a log axis cannot show it
  auto it = loss_graphs_.find(series);
  if (it == loss_graphs_.end()) {
    auto* g = loss_plot_->addGraph();
    g->setName(series);
    g->setPen(QPen(series_color(loss_graphs_.size()), 1.2));
    // One series per layer of a block-wise method would fill the legend; a
    // whole-model refinement's training and held-out losses need it.
    if (series.startsWith(QLatin1String("layer "))) g->removeFromLegend();
    loss_plot_->legend->setVisible(loss_plot_->legend->itemCount() > 0);
    it = loss_graphs_.insert(series, loss_plot_->graphCount() - 1);
    loss_plot_->setVisible(true);
  }
  loss_plot_->graph(it.value())->addData(static_cast<double>(step), loss);
  loss_plot_->rescaleAxes();
  // Points on the edge of a log axis look cut off: leave a margin.
  const auto y = loss_plot_->yAxis->range();
  loss_plot_->yAxis->setRange(y.lower / 1.03, y.upper * 1.03);
  loss_plot_->replot(QCustomPlot::rpQueuedReplot);
}

void RunView::append_log(const QString& line) { log_->appendPlainText(line); }

void RunView::set_progress(qint64 done, qint64 total) {
  progress_->setRange(0, static_cast<int>(total));
  progress_->setValue(static_cast<int>(done));
}

void RunView::finish(const QString& status) {
  title_->setText(status);
  append_log(status);
}

int RunView::divergence_points() const { return kl_plot_->graph(0)->dataCount(); }

QString RunView::status() const { return title_->text(); }

QString RunView::perplexity_csv() const {
  QString s = "blocks_quantized,perplexity\n";
  for (int i = 0; i < ppl_x_.size(); ++i) s += QString("%1,%2\n").arg(ppl_x_[i]).arg(ppl_y_[i], 0, 'g', 10);
  s += block_error_table("output_rel_mse", mse_x_, mse_y_);
  if (!fp_mse_x_.isEmpty()) s += block_error_table("rel_mse_against_fp_model", fp_mse_x_, fp_mse_y_);
  return s;
}

QString RunView::divergence_csv() const {
  QString s = "blocks_quantized,mean_kl,p99_kl\n";
  const auto mean = kl_plot_->graph(0)->data();
  const auto p99 = kl_plot_->graph(1)->data();
  for (int i = 0; i < mean->size(); ++i)
    s += QString("%1,%2,%3\n")
             .arg(mean->at(i)->key)
             .arg(mean->at(i)->value, 0, 'g', 10)
             .arg(p99->at(i)->value, 0, 'g', 10);
  return s;
}

QString RunView::loss_csv() const {
  QString s = "series,step,loss\n";
  for (auto it = loss_graphs_.begin(); it != loss_graphs_.end(); ++it)
    for (auto p = loss_plot_->graph(it.value())->data()->constBegin();
         p != loss_plot_->graph(it.value())->data()->constEnd(); ++p)
      s += QString("%1,%2,%3\n").arg(it.key()).arg(p->key).arg(p->value, 0, 'g', 10);
  return s;
}

}  // namespace qs::widgets
