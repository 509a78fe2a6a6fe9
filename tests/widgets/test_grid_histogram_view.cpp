#include <QTest>

#include "tests/support/test_registry.h"
#include "widgets/grid_histogram_view.h"
#include "widgets/qcustomplot_include.h"

using namespace qs::widgets;

namespace {

GridHistogramData sample(int bits) {
  GridHistogramData d;
  d.weight_counts = QVector<double>(10, 5.0);
  d.weight_lo = -0.1;
  d.weight_hi = 0.1;
  d.levels = 1 << bits;
  for (int k = 0; k < d.levels; ++k) d.grid.append(-0.1 + 0.2 * k / (d.levels - 1));
  d.code_counts = QVector<double>(d.levels * 4, 1.0);
  d.grid_row = 3;
  d.grid_group = 1;
  return d;
}

}  // namespace

class TestGridHistogramView : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void drawsCountsAndTheGrid() {
    GridHistogramView v;
    v.set_histogram(sample(4));
    QCOMPARE(v.weight_plot()->graph(0)->dataCount(), 10);
    QCOMPARE(v.code_plot()->graph(0)->dataCount(), 64);
    QCOMPARE(v.grid_lines(), 16);
    QCOMPARE(v.code_lines(), 16);
    QCOMPARE(v.weight_plot()->itemCount(), 16);
    QVERIFY(v.csv().count("grid_level") == 16);
    // Redrawing (log counts off) replaces, never accumulates, the lines.
    v.findChild<QCheckBox*>()->setChecked(false);
    QCOMPARE(v.weight_plot()->itemCount(), 16);
    QCOMPARE(v.weight_plot()->yAxis->scaleType(), QCPAxis::stLinear);
  }

  void eightBitsMarkEverySixteenthCode() {
    GridHistogramView v;
    v.set_histogram(sample(8));
    QCOMPARE(v.grid_lines(), 256);
    QCOMPARE(v.code_lines(), 16);
  }

  void emptyDataSaysSo() {
    GridHistogramView v;
    v.set_histogram({});
    QCOMPARE(v.grid_lines(), 0);
    QVERIFY(v.weight_plot()->isHidden());
    QVERIFY(v.findChild<QLabel*>()->text().contains("No histogram"));
  }
};

QS_REGISTER_TEST(TestGridHistogramView);
#include "test_grid_histogram_view.moc"
