#include <QCheckBox>
#include <QStackedWidget>
#include <QTemporaryDir>
#include <QTest>

#include "tests/support/test_registry.h"
#include "widgets/error_heatmap.h"
#include "widgets/layer_inspector.h"
#include "widgets/outlier_view.h"
#include "widgets/spectrum_plot.h"

using namespace qs::widgets;

namespace {

LayerInspection sample_layer() {
  LayerInspection l;
  l.name = "model.layers.0.mlp.up_proj";
  l.title = "up_proj · gptq W4g2";
  l.metrics = {{"Output rel. MSE", "1.0e-03"}};
  l.sv_weight = {4, 3, 2, 1};
  l.sv_error = {0.5, 0.25, 0.125, 0};
  l.act_abs_max = {1, 9, 2, 3, 1, 1};
  l.act_mean_abs = {0.5, 2, 1, 1, 0.5, 0.5};
  l.weight_abs_max = {1, 1, 1, 5, 1, 1};
  l.error_map = {2, 3, {1, 2, 3, 4, 5, 6}, 4, 6, 2, 2, 1};
  return l;
}

}  // namespace

class TestInspectorWidgets : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void spectrumDrawsEachSeriesWithItsEnergy() {
    SpectrumPlot p;
    p.set_series({{"W", {4, 3, 2, 1}, Qt::blue}, {"E", {1, 1}, Qt::red}, {"empty", {}, Qt::black}});
    QCOMPARE(p.graphCount(), 4);  // value and cumulative energy per non-empty series
    QCOMPARE(p.graph(0)->dataCount(), 4);
    QCOMPARE(p.graph(2)->dataCount(), 2);
    QCOMPARE(p.graph(1)->data()->at(3)->value, 1.0);              // energy ends at 1
    QCOMPARE(p.graph(1)->data()->at(0)->value, 16.0 / 30.0);      // σ1² / Σσ²
    QCOMPARE(p.rank_for_energy(0, 0.8), 2);                       // (16 + 9) / 30 ≥ 0.8
    // The top of a spectrum whose whole energy is 300: 30 of it shown.
    p.set_series({{"top of W", {4, 3, 2, 1}, Qt::blue, 300.0}});
    QCOMPARE(p.rank_for_energy(0, 0.07), 2);  // 16 / 300 < 0.07 ≤ 25 / 300
    QCOMPARE(p.rank_for_energy(0, 0.9), -1);
    QCOMPARE(p.graph(1)->data()->at(3)->value, 0.1);  // the shown values' share of the whole
    QCOMPARE(p.csv().split('\n', Qt::SkipEmptyParts).size(), 5);  // header + 4 rows
    QVERIFY(p.yAxis->scaleType() == QCPAxis::stLogarithmic);
    QCOMPARE(p.yAxis->range().lower, 1.0 / 1.5);
  }

  // Singular values that a low-rank branch cancelled (zero up to rounding)
  // stay plotted but do not set the range: it spans the rest.
  void spectrumRangeIgnoresRoundingZeros() {
    SpectrumPlot p;
    p.set_series({{"RTN", {0.5, 0.2, 0.1}, Qt::blue}, {"LQER", {0.2, 0.1, 3e-8}, Qt::red}});
    QCOMPARE(p.graph(2)->dataCount(), 3);
    QCOMPARE(p.yAxis->range().lower, 0.1 / 1.5);
    QCOMPARE(p.yAxis->range().upper, 0.5 * 1.5);
  }

  void heatmapHasOneCellPerValueAndDescribesClicks() {
    ErrorHeatmap h;
    h.set_map(sample_layer().error_map);
    QCOMPARE(h.cell_count(), 6);
    // Cell (1, 2): rows 2–3, groups 2 of width 2 → columns 4–5.
    QCOMPARE(h.describe_cell(1, 2), QString("rows 2–3, columns 4–5: max |error| 6"));
    QVERIFY(h.describe_cell(2, 0).isEmpty());
    QCOMPARE(h.csv().split('\n', Qt::SkipEmptyParts).size(), 7);
  }

  void outliersListTopChannelsAndSort() {
    OutlierView v;
    v.set_inspection(sample_layer());
    QCOMPARE(v.plot()->graphCount(), 3);
    QCOMPARE(v.plot()->graph(0)->dataCount(), 6);
    QCOMPARE(v.top_channels(2), (QVector<int>{1, 3}));
    QCOMPARE(v.plot()->graph(0)->data()->at(0)->value, 1.0);  // channel order
    v.findChild<QCheckBox*>()->setChecked(true);
    QCOMPARE(v.plot()->graph(0)->data()->at(0)->value, 9.0);  // sorted by activation max
    QCOMPARE(v.plot()->graph(2)->data()->at(0)->value, 1.0);  // weight of channel 1, moved along
  }

  void inspectorSwitchesBetweenMessageAndPlots() {
    LayerInspector ins;
    auto* stack = ins.findChild<QStackedWidget*>();
    QVERIFY(stack->currentWidget() != ins.tabs());
    ins.set_inspection(sample_layer());
    QCOMPARE(stack->currentWidget(), ins.tabs());
    QCOMPARE(ins.spectrum()->graphCount(), 4);  // the scaled-error spectrum is empty here
    ins.show_message("nothing here", "q_proj");
    QVERIFY(stack->currentWidget() != ins.tabs());
  }

  void plotsRenderOffscreen() {
    QTemporaryDir tmp;
    LayerInspector ins;
    ins.resize(800, 500);
    ins.set_inspection(sample_layer());
    const QString f = tmp.filePath("spectrum.png");
    QVERIFY(ins.spectrum()->savePng(f, 600, 400));
    QVERIFY(QFileInfo(f).size() > 1000);
  }
};

QS_REGISTER_TEST(TestInspectorWidgets);
#include "test_inspector_widgets.moc"
