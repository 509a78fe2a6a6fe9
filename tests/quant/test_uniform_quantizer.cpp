#include <QTest>

#include "core/error.h"
#include "core/quant/quantized_linear.h"
#include "core/quant/uniform_quantizer.h"
#include "tests/support/test_registry.h"

using namespace qs;

class TestUniformQuantizer : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void errorWithinHalfStep_data() {
    QTest::addColumn<int>("bits");
    QTest::addColumn<int>("group");
    QTest::addColumn<bool>("symmetric");
    for (int bits = 2; bits <= 8; ++bits)
      for (int group : {32, 64, 128, 0})
        for (bool sym : {false, true})
          QTest::newRow(qPrintable(QString("W%1 g%2 %3").arg(bits).arg(group).arg(sym ? "sym" : "asym")))
              << bits << group << sym;
  }
  // Every weight lands within half a step of its group's grid, codes fit the
  // bit width, and codes + params reproduce fake_quantize exactly.
  void errorWithinHalfStep() {
    QFETCH(int, bits);
    QFETCH(int, group);
    QFETCH(bool, symmetric);
    torch::manual_seed(bits * 1000 + group);
    auto w = torch::randn({48, 256}) * 0.05 + 0.01;
    quant::QuantSpec spec{bits, group, symmetric, 1.0};
    auto p = quant::compute_group_params(w, spec);
    const int64_t g = spec.effective_group(256);
    QCOMPARE(p.scales.sizes().vec(), (std::vector<int64_t>{48, 256 / g}));
    auto codes = quant::quantize_codes(w, p, g, bits);
    QVERIFY(codes.max().item<int64_t>() <= spec.max_code());
    auto deq = quant::dequantize(codes, p.scales, p.zeros, g);
    QVERIFY(torch::equal(deq, quant::fake_quantize(w, spec)));
    auto step = p.scales.repeat_interleave(g, 1);
    const double worst = ((w - deq).abs() / step).max().item<double>();
    QVERIFY2(worst <= 0.5 + 1e-4, qPrintable(QString("error %1 steps").arg(worst)));
    if (symmetric) QVERIFY(torch::all(p.zeros == (1 << (bits - 1))).item<bool>());
  }

  // 80 columns in groups of 32: the last group has 16 columns and its own grid.
  void shortLastGroup() {
    torch::manual_seed(12);
    auto w = torch::randn({8, 80});
    const quant::QuantSpec spec{4, 32, false, 1.0};
    QCOMPARE(spec.num_groups(80), int64_t{3});
    auto p = quant::compute_group_params(w, spec);
    auto last = quant::compute_slice_params(w.narrow(1, 64, 16), spec);
    QVERIFY(torch::equal(p.scales.narrow(1, 2, 1), last.scales));
    QVERIFY(torch::equal(p.zeros.narrow(1, 2, 1), last.zeros));
    auto q = quant::QuantizedLinear::round_to_nearest(w, spec);
    q.validate("test", "short");
    auto step = quant::expand_groups(q.scales, 32, 80);
    QVERIFY(((w - q.dequantized_weight()).abs() / step).max().item<double>() <= 0.5 + 1e-4);
  }

  void moreBitsLessError() {
    torch::manual_seed(3);
    auto w = torch::randn({64, 512});
    double previous = 1e30;
    for (int bits = 2; bits <= 8; ++bits) {
      const double e = (w - quant::fake_quantize(w, {bits, 64, false, 1.0})).pow(2).mean().item<double>();
      QVERIFY2(e < previous * 0.5, qPrintable(QString("W%1 mse %2 vs %3").arg(bits).arg(e).arg(previous)));
      previous = e;
    }
  }

  // A matrix that lies on a grid (each group holds codes 0 and 2^b - 1) is
  // recovered code for code.
  void gridMatrixRoundTripsExactly() {
    torch::manual_seed(11);
    const int bits = 3, g = 16;
    auto codes = torch::randint(0, 8, {8, 64}, torch::kInt64);
    for (int k = 0; k < 4; ++k) {
      codes.select(1, k * g).fill_(0);
      codes.select(1, k * g + 1).fill_(7);
    }
    auto scales = torch::rand({8, 4}) * 0.1 + 0.01;
    auto zeros = torch::randint(0, 8, {8, 4}, torch::kInt32);
    auto w = quant::dequantize(codes.to(torch::kUInt8), scales, zeros, g);
    auto q = quant::QuantizedLinear::round_to_nearest(w, {bits, g, false, 1.0});
    QVERIFY(torch::equal(q.codes, codes.to(torch::kUInt8)));
    QVERIFY(torch::equal(q.zeros, zeros));
    QVERIFY(torch::allclose(q.scales, scales, 1e-5, 1e-7));
  }

  void clipRatioShrinksTheRange() {
    auto w = torch::linspace(-1.0, 1.0, 128).reshape({1, 128});
    auto full = quant::compute_group_params(w, {4, 128, false, 1.0});
    auto clipped = quant::compute_group_params(w, {4, 128, false, 0.5});
    QVERIFY(std::abs(clipped.scales.item<double>() - 0.5 * full.scales.item<double>()) < 1e-6);
  }

  void actOrderGroupIndex() {
    // With g_idx, column j takes the params of group g_idx[j].
    auto codes = torch::full({2, 4}, 3, torch::kUInt8);
    auto scales = torch::tensor({{1.0f, 2.0f}, {3.0f, 4.0f}});
    auto zeros = torch::tensor({{1, 0}, {0, 2}}, torch::kInt32);
    auto g_idx = torch::tensor({1, 0, 0, 1}, torch::kInt32);
    auto w = quant::dequantize(codes, scales, zeros, 2, g_idx);
    auto expected = torch::tensor({{6.0f, 2.0f, 2.0f, 6.0f}, {4.0f, 9.0f, 9.0f, 4.0f}});
    QVERIFY(torch::equal(w, expected));
  }

  void specValidation() {
    QVERIFY_THROWS_EXCEPTION(ConfigError, (quant::QuantSpec{1, 128, false, 1.0}.validate("t")));
    QVERIFY_THROWS_EXCEPTION(ConfigError, (quant::QuantSpec{9, 128, false, 1.0}.validate("t")));
    QVERIFY_THROWS_EXCEPTION(ConfigError, (quant::QuantSpec{4, 128, false, 0.0}.validate("t")));
    QCOMPARE(QString::fromStdString(quant::QuantSpec{3, 128, false, 1.0}.label()), QString("W3g128"));
    QCOMPARE(QString::fromStdString(quant::QuantSpec{4, 0, true, 1.0}.label()), QString("W4-sym"));
  }

  // Broadcasting over [out, groups, group] computes the same values as the
  // expanded per-column parameters, bit for bit; a short last group or a
  // strided input falls back to the expansion.
  void perGroupBroadcastEqualsExpansion_data() {
    QTest::addColumn<int>("in");
    QTest::addColumn<bool>("strided");
    QTest::newRow("groups tile the row") << 256 << false;
    QTest::newRow("short last group") << 200 << false;
    QTest::newRow("transposed input") << 256 << true;
  }
  void perGroupBroadcastEqualsExpansion() {
    QFETCH(int, in);
    QFETCH(bool, strided);
    torch::manual_seed(9);
    const int64_t group = 64, groups = (in + group - 1) / group;
    const auto x = strided ? torch::randn({in, 24}).t() : torch::randn({24, in});
    const auto s = torch::rand({24, groups}) + 0.1, z = torch::randint(0, 16, {24, groups}).to(torch::kFloat32);
    const auto fn = [](const torch::Tensor& v, const torch::Tensor& a, const torch::Tensor& b) {
      return torch::round(v / a) + b;
    };
    const auto expected = fn(x, quant::expand_groups(s, group, in), quant::expand_groups(z, group, in));
    QVERIFY(torch::equal(quant::apply_per_group(x, s, z, group, fn), expected));
  }
};

QS_REGISTER_TEST(TestUniformQuantizer);
#include "test_uniform_quantizer.moc"
