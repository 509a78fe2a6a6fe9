#include <QTest>

#include "core/analysis/layer_analysis.h"
#include "core/error.h"
#include "tests/support/test_registry.h"

using namespace qs;

class TestLayerAnalysis : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void channelStatsAccumulateOverBatches() {
    analysis::ChannelStats s;
    s.add(torch::tensor({{1.0f, -4.0f}, {-3.0f, 2.0f}}));
    s.add(torch::tensor({{{5.0f, 0.0f}}}));
    QVERIFY(torch::equal(s.abs_max(), torch::tensor({5.0f, 4.0f})));
    QVERIFY(torch::allclose(s.mean_abs(), torch::tensor({3.0f, 2.0f})));
  }

  // Cells hold the max |E| of their (row, group); pooling keeps the max.
  void errorMapKeepsTheMaxPerCell() {
    auto e = torch::zeros({6, 10});
    e[1][7] = -3.0f;  // row 1, group 3 of width 2
    e[4][0] = 2.0f;
    const auto m = analysis::error_map(e, 2, 100, 100);
    QCOMPARE(m.sizes().vec(), (std::vector<int64_t>{6, 5}));
    QCOMPARE(m[1][3].item<float>(), 3.0f);
    QCOMPARE(m[4][0].item<float>(), 2.0f);
    QCOMPARE(m.sum().item<float>(), 5.0f);

    // A short last group (10 columns in groups of 4), then pooled to 4 × 2 cells.
    const auto pooled = analysis::error_map(e, 4, 4, 2);
    QCOMPARE(pooled.sizes().vec(), (std::vector<int64_t>{3, 2}));
    QCOMPARE(pooled[0][0].item<float>(), 3.0f);  // rows 0-1, groups 0-1 (columns 0-7)
    QCOMPARE(pooled[0][1].item<float>(), 0.0f);  // rows 0-1, group 2 (columns 8-9)
    QCOMPARE(pooled[2][0].item<float>(), 2.0f);
  }

  void analysesMatchAnIndependentComputation() {
    torch::manual_seed(3);
    const auto w = torch::randn({24, 32});
    const auto q = quant::QuantizedLinear::round_to_nearest(w, {3, 8, false, 1.0});
    analysis::ChannelStats s;
    const auto x = torch::randn({50, 32}) * torch::linspace(0.1, 3.0, 32);
    s.add(x);
    const auto a = analysis::analyze_layer(w, q, s);
    const auto e = w - q.dequantized_weight();
    // Singular values: squares sum to the Frobenius norm.
    QVERIFY(std::abs(a.at("sv_weight").pow(2).sum().item<double>() - w.pow(2).sum().item<double>()) < 1e-3);
    QVERIFY(std::abs(a.at("sv_error").pow(2).sum().item<double>() - e.pow(2).sum().item<double>()) < 1e-4);
    const auto scaled = e * x.abs().mean(0);
    QVERIFY(std::abs(a.at("sv_scaled_error").pow(2).sum().item<double>() - scaled.pow(2).sum().item<double>()) < 1e-3);
    QCOMPARE(a.at("error_map").sizes().vec(), (std::vector<int64_t>{24, 4}));
    QCOMPARE(a.at("error_map").max().item<float>(), e.abs().max().item<float>());
    QVERIFY(torch::equal(a.at("weight_abs_max"), w.abs().amax(0)));
    QVERIFY(torch::equal(a.at("act_abs_max"), x.abs().amax(0)));
    QVERIFY(analysis::analyze_layer(w, q, {}).count("sv_scaled_error") == 0);
  }

  // A low-rank side branch is part of the layer: one that holds the error's
  // top singular direction leaves the rest of the spectrum, and a branch
  // that cancels the error in one row leaves that row's cells at 0.
  void theErrorIncludesASideBranch() {
    torch::manual_seed(4);
    const auto w = torch::randn({24, 32});
    auto q = quant::QuantizedLinear::round_to_nearest(w, {3, 8, false, 1.0});
    const auto e = w - q.dequantized_weight();
    const auto [u, sv, vh] = torch::linalg_svd(e, false);
    q.lora_b = (u.narrow(1, 0, 1) * sv[0]).contiguous();
    q.lora_a = vh.narrow(0, 0, 1).contiguous();
    const auto a = analysis::analyze_layer(w, q, {});
    QVERIFY(torch::allclose(a.at("sv_error").narrow(0, 0, 23), sv.narrow(0, 1, 23), 1e-4, 1e-5));
    QVERIFY(a.at("sv_error")[23].item<float>() < 1e-4);

    auto row = quant::QuantizedLinear::round_to_nearest(w, {3, 8, false, 1.0});
    row.lora_b = torch::zeros({24, 1});
    row.lora_b[5][0] = 1.0f;
    row.lora_a = e.narrow(0, 5, 1).clone();
    const auto map = analysis::analyze_layer(w, row, {}).at("error_map");
    QVERIFY(map[5].abs().max().item<float>() < 1e-6);
    QVERIFY(map[4].abs().max().item<float>() > 0);
  }
};

QS_REGISTER_TEST(TestLayerAnalysis);
#include "test_layer_analysis.moc"
