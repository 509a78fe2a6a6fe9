#include <QFile>
#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <limits>

#include "tests/support/test_registry.h"
#include "widgets/plot_support.h"
#include "widgets/qcustomplot_include.h"
#include "widgets/run_view.h"

using namespace qs;

class TestRunView : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // Each block adds a perplexity point and a KL point when the live slice was
  // measured; a block without one adds neither, and a KL of 0 stays on the log axis.
  void plotsPerplexityAndKlPerBlock() {
    widgets::RunView v;
    v.begin(3, "rtn W4g128 on tiny");
    v.set_fp_perplexity(10.0);
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    v.add_block({0, 1e-3, 10.5, 0.01, 0.2});
    v.add_block({1, 2e-3, nan, nan, nan});
    v.add_block({2, 3e-3, 11.0, 0.0, 0.0});
    QCOMPARE(v.perplexity_points(), 3);  // FP, block 0, block 2
    QCOMPARE(v.divergence_points(), 2);
    const auto mean = v.divergence_plot()->graph(0)->data();
    QCOMPARE(mean->at(0)->key, 1.0);
    QCOMPARE(mean->at(0)->value, 0.01);
    QCOMPARE(mean->at(1)->key, 3.0);
    QVERIFY(mean->at(1)->value > 0);
    QCOMPARE(v.divergence_plot()->graph(1)->data()->at(0)->value, 0.2);
    const QString readout = widgets::hover_readout(v.divergence_plot(), 2.8);  // nearest: block 2
    QVERIFY2(readout.contains("mean over tokens: 3 →") && readout.contains("99th percentile token: 3 → 1e-09"),
             qPrintable(readout));
    v.begin(3, "again");
    QCOMPARE(v.divergence_points(), 0);
  }

  // A Mixture of Experts' tokens per expert fill a block × expert map, shown
  // only for runs that report them; a dense block leaves its row empty.
  void mapsTokensPerExpert() {
    widgets::RunView v;
    v.begin(3, "gptq on a tiny MoE");
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    v.add_block({0, 1e-3, nan, nan, nan});
    QVERIFY(v.experts_plot()->isHidden());
    widgets::BlockPoint moe{1, 2e-3, nan, nan, nan};
    moe.expert_tokens = {40, 0, 130, 70};
    moe.starved_below = 64;
    v.add_block(moe);
    QVERIFY(!v.experts_plot()->isHidden());
    QCOMPARE(v.expert_tokens(1, 0), 40.0);
    QCOMPARE(v.expert_tokens(1, 1), 0.5);  // none: at the log scale's floor
    QCOMPARE(v.expert_tokens(1, 2), 130.0);
    QVERIFY(std::isnan(v.expert_tokens(0, 0)));
    QVERIFY(std::isnan(v.expert_tokens(1, 4)));
    QVERIFY2(v.experts_plot()->xAxis->label().contains("2 of the experts seen so far below 64"),
             qPrintable(v.experts_plot()->xAxis->label()));
    v.begin(3, "again");
    QVERIFY(v.experts_plot()->isHidden());
  }

  // The error against the FP model's own output is a second series beside
  // the block's output error, in the legend only while a run measures it.
  void plotsTheErrorAgainstTheFpTrajectoryWhereMeasured() {
    widgets::RunView v;
    v.begin(3, "lwc W3g128 on tiny");
    auto* plot = v.perplexity_plot();
    QCPGraph* fp_error = plot->graph(3);
    QVERIFY(!plot->legend->hasItemWithPlottable(fp_error));
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    v.add_block({0, 1e-3, nan, nan, nan, 2e-3});
    v.add_block({1, 2e-3, nan, nan, nan, 0.5});
    QCOMPARE(fp_error->data()->size(), 2);
    QCOMPARE(fp_error->data()->at(1)->key, 2.0);
    QCOMPARE(fp_error->data()->at(1)->value, 0.5);
    QCOMPARE(fp_error->valueAxis(), plot->yAxis2);
    QVERIFY(plot->legend->hasItemWithPlottable(fp_error));
    QVERIFY(plot->yAxis2->range().contains(0.5) && plot->yAxis2->range().contains(1e-3));
    QVERIFY2(v.perplexity_csv().endsWith("\nblock,output_rel_mse\n0,0.001\n1,0.002\n"
                                         "\nblock,rel_mse_against_fp_model\n0,0.002\n1,0.5\n"),
             qPrintable(v.perplexity_csv()));
    v.begin(3, "rtn W3g128 on tiny");
    v.add_block({0, 1e-3, nan, nan, nan});
    QCOMPARE(fp_error->data()->size(), 0);
    QVERIFY(!plot->legend->hasItemWithPlottable(fp_error));
    QVERIFY2(v.perplexity_csv().endsWith("\nblock,output_rel_mse\n0,0.001\n"), qPrintable(v.perplexity_csv()));
  }

  // A refinement over a model quantized before starts at its last block:
  // no FP point at 0 (the FP level stays a line), the plots on the last
  // block and the one past it.
  void aRefinementAloneStartsAtTheLastBlock() {
    widgets::RunView v;
    v.begin(30, "rilq over ckpt", true);
    v.set_fp_perplexity(21.0);
    v.add_block({29, std::numeric_limits<double>::quiet_NaN(), 60.0, 0.5, 3.0});
    v.add_block({30, std::numeric_limits<double>::quiet_NaN(), 45.0, 0.3, 2.0});
    QCOMPARE(v.perplexity_points(), 2);
    const auto curve = v.perplexity_plot()->graph(0)->data();
    QCOMPARE(curve->at(0)->key, 30.0);
    QCOMPARE(curve->at(1)->key, 31.0);
    QVERIFY(v.perplexity_plot()->xAxis->range().lower > 28);
    QCOMPARE(v.perplexity_plot()->xAxis->range(), v.divergence_plot()->xAxis->range());
    QVERIFY(v.perplexity_plot()->xAxis->range().contains(31.0));
    QCOMPARE(v.perplexity_plot()->graph(1)->data()->at(1)->key, 31.5);  // the FP line reaches the last point
    QVERIFY(v.perplexity_plot()->yAxis->range().contains(21.0));        // and is in view
    const auto ticks = v.perplexity_plot()->xAxis->ticker().dynamicCast<QCPAxisTickerText>();
    QVERIFY(ticks);
    QCOMPARE(ticks->ticks().value(30.0), QString("as quantized"));
    QCOMPARE(ticks->ticks().value(31.0), QString("refined"));
    v.begin(30, "a run");
    v.set_fp_perplexity(21.0);
    QCOMPARE(v.perplexity_points(), 1);
    QCOMPARE(v.perplexity_plot()->xAxis->range().lower, -0.5);
    QVERIFY(v.perplexity_plot()->xAxis->ticker().dynamicCast<QCPAxisTickerFixed>());  // whole blocks
  }

  // A refinement's two loss curves are named in a legend; a block-wise
  // method's one curve per layer is not.
  void namesTheRefinementsLossCurves() {
    widgets::RunView v;
    v.begin(2, "lwc then rilq");
    v.add_loss_point("layer 0 lwc loss", 0, 0.5);
    v.add_loss_point("layer 1 lwc loss", 0, 0.4);
    QVERIFY(!v.loss_plot()->legend->visible());
    v.add_loss_point("rilq loss", 1, 2.0);
    v.add_loss_point("rilq validation loss", 1, 2.1);
    QCOMPARE(v.loss_plot()->graphCount(), 4);
    QVERIFY(v.loss_plot()->legend->visible());
    QCOMPARE(v.loss_plot()->legend->itemCount(), 2);
    QVERIFY(v.loss_plot()->legend->hasItemWithPlottable(v.loss_plot()->graph(3)));
    v.begin(2, "again");
    QVERIFY(!v.loss_plot()->legend->visible());
  }

  // Plots save as vector SVG with their curves in it.
  void savesAPlotAsSvg() {
    widgets::RunView v;
    v.resize(900, 600);
    v.begin(2, "svg");
    v.add_block({0, 1e-3, 10.5, 0.01, 0.2});
    v.add_block({1, 2e-3, 11.5, 0.02, 0.3});
    QTemporaryDir dir;
    const QString path = dir.filePath("kl.svg");
    QVERIFY(widgets::save_svg(v.divergence_plot(), path));
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray svg = f.readAll();
    QVERIFY(svg.contains("<svg"));
    QVERIFY(svg.contains("<path") || svg.contains("<polyline"));
    QVERIFY(!widgets::save_svg(v.divergence_plot(), dir.filePath("no/such/dir/kl.svg")));
  }
};

QS_REGISTER_TEST(TestRunView);
#include "test_run_view.moc"
