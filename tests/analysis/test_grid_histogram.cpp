#include <QTest>

#include <cmath>

#include "core/analysis/grid_histogram.h"
#include "core/analysis/layer_analysis.h"
#include "core/quant/quantized_linear.h"
#include "tests/support/test_registry.h"

using namespace qs;

namespace {

// 8 rows × 4 groups of 32; row 3, group 1 holds one planted outlier.
torch::Tensor planted_weight() {
  auto g = torch::make_generator<at::CPUGeneratorImpl>(11);
  auto w = torch::randn({8, 128}, g) * 0.02;
  w.index_put_({3, 40}, 0.9);
  return w;
}

quant::QuantSpec spec(int bits, bool symmetric) {
  quant::QuantSpec s;
  s.bits = bits;
  s.group_size = 32;
  s.symmetric = symmetric;
  return s;
}

}  // namespace

class TestGridHistogram : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void countsCoverEveryWeight_data() { grids(); }
  void countsCoverEveryWeight() {
    QFETCH(int, bits);
    QFETCH(bool, symmetric);
    const auto w = planted_weight();
    const auto q = quant::QuantizedLinear::round_to_nearest(w, spec(bits, symmetric));
    const auto h = analysis::grid_histogram(w, q, 64);
    QCOMPARE(h.at("hist_weight").size(0), int64_t{64});
    QCOMPARE(h.at("hist_weight").sum().item<double>(), double(w.numel()));
    QCOMPARE(h.at("hist_code").size(0), (int64_t{1} << bits) * analysis::code_bins_per_level(bits));
    QCOMPARE(h.at("hist_code").sum().item<double>(), double(w.numel()));
    QVERIFY(std::abs(h.at("hist_weight_range")[1].item<double>() - 0.9) < 1e-6);
  }

  // The widest grid is the outlier's group, its levels those of min/max
  // quantization of that group written out by hand.
  void gridIsTheOutliersGroupsLevels_data() { grids(); }
  void gridIsTheOutliersGroupsLevels() {
    QFETCH(int, bits);
    QFETCH(bool, symmetric);
    const auto w = planted_weight();
    const auto q = quant::QuantizedLinear::round_to_nearest(w, spec(bits, symmetric));
    const auto h = analysis::grid_histogram(w, q);
    QCOMPARE(h.at("hist_grid_group")[0].item<float>(), 3.0f);
    QCOMPARE(h.at("hist_grid_group")[1].item<float>(), 1.0f);
    const auto group = w[3].slice(0, 32, 64).to(torch::kFloat64);
    const double mx = group.max().item<double>(), mn = group.min().item<double>();
    const int64_t levels = int64_t{1} << bits;
    double scale, zero;
    if (symmetric) {
      scale = std::max(std::max(std::abs(mx), std::abs(mn)), 1e-5) / double((levels >> 1) - 1);
      zero = double(levels >> 1);
    } else {
      scale = std::max(mx - mn, 1e-5) / double(levels - 1);
      zero = std::clamp(-std::round(mn / scale), 0.0, double(levels - 1));
    }
    const auto grid = h.at("hist_grid");
    QCOMPARE(grid.size(0), levels);
    for (int64_t k = 0; k < levels; ++k)  // float32 levels: a few ulps of the level itself
      QVERIFY2(std::abs(grid[k].item<double>() - (double(k) - zero) * scale) <
                   1e-5 * scale + 1e-6 * std::abs((double(k) - zero) * scale),
               qPrintable(QString("level %1: %2 vs %3").arg(k).arg(grid[k].item<double>()).arg((k - zero) * scale)));
  }

  // Weights exactly on their grids sit at whole code positions: all the mass
  // in the two bins around each level's centre.
  void weightsOnTheGridSitAtWholeCodes_data() { grids(); }
  void weightsOnTheGridSitAtWholeCodes() {
    QFETCH(int, bits);
    QFETCH(bool, symmetric);
    const auto q = quant::QuantizedLinear::round_to_nearest(planted_weight(), spec(bits, symmetric));
    const auto code = analysis::grid_histogram(q.dequantized_weight(), q).at("hist_code");
    const int64_t k = analysis::code_bins_per_level(bits);
    double at_levels = 0;
    for (int64_t level = 0; level < (int64_t{1} << bits); ++level)
      at_levels += code[level * k + k / 2 - 1].item<double>() + code[level * k + k / 2].item<double>();
    QCOMPARE(at_levels, double(q.codes.numel()));
  }

  void analyzeLayerCarriesTheHistogram() {
    const auto w = planted_weight();
    const auto q = quant::QuantizedLinear::round_to_nearest(w, spec(4, false));
    const auto a = analysis::analyze_layer(w, q, analysis::ChannelStats{});
    for (const char* key : {"hist_weight", "hist_weight_range", "hist_grid", "hist_grid_group", "hist_code"})
      QVERIFY2(a.count(key), key);
  }

 private:
  static void grids() {
    QTest::addColumn<int>("bits");
    QTest::addColumn<bool>("symmetric");
    for (int bits : {2, 3, 4, 8})
      for (bool sym : {false, true})
        QTest::addRow("W%d %s", bits, sym ? "sym" : "asym") << bits << sym;
  }
};

QS_REGISTER_TEST(TestGridHistogram);
#include "test_grid_histogram.moc"
