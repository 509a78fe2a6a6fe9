#include <QTest>

#include "core/quant/ste_fake_quant.h"
#include "core/quant/uniform_quantizer.h"
#include "tests/support/test_registry.h"

using namespace qs;

namespace {

// The expression the fused node replaces, differentiated by autograd:
// straight-through rounding as (round(x) − x).detach() + x, per-group values
// spread with repeat_interleave.
torch::Tensor reference(const torch::Tensor& w, const torch::Tensor& scale, const torch::Tensor& zero, int64_t group,
                        int64_t qmax) {
  const int64_t in = w.size(1);
  const auto s = scale.repeat_interleave(group, 1).narrow(1, 0, in);
  const auto z = zero.detach().repeat_interleave(group, 1).narrow(1, 0, in);
  const auto x = w / s;
  const auto rounded = (torch::round(x) - x).detach() + x;
  return ((rounded + z).clamp(0.0, static_cast<double>(qmax)) - z) * s;
}

struct Case {
  torch::Tensor w, scale, zero;
};

// Asymmetric min/max grids shrunk by `shrink`, so some codes fall off both
// ends of the grid and the clamp's gradient mask matters.
Case make_case(int64_t out, int64_t in, int64_t group, int64_t qmax, double shrink, torch::ScalarType dtype) {
  auto w = (torch::randn({out, in}, torch::kFloat64) * 0.05).to(dtype);
  auto [wmin, wmax] = quant::group_min_max(w, group);
  auto scale = ((wmax - wmin) * shrink / static_cast<double>(qmax)).clamp_min(1e-5);
  auto zero = (-torch::round(wmin * shrink / scale)).clamp(0.0, static_cast<double>(qmax));
  return {w, scale, zero};
}

}  // namespace

class TestSteFakeQuant : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void matchesTheAutogradExpression_data() {
    QTest::addColumn<int>("in");
    QTest::addColumn<int>("group");
    QTest::addColumn<int>("bits");
    QTest::addColumn<double>("shrink");
    QTest::addColumn<bool>("doublePrecision");
    for (bool dp : {false, true}) {
      const char* kind = dp ? "float64 (tensor ops)" : "float32 (fused loop)";
      QTest::newRow(qPrintable(QString("%1 W3 g128 whole groups").arg(kind))) << 256 << 128 << 3 << 1.0 << dp;
      QTest::newRow(qPrintable(QString("%1 W3 g128 576 columns").arg(kind))) << 576 << 128 << 3 << 0.7 << dp;
      QTest::newRow(qPrintable(QString("%1 W2 g64 clipped").arg(kind))) << 200 << 64 << 2 << 0.5 << dp;
      QTest::newRow(qPrintable(QString("%1 W4 per channel").arg(kind))) << 77 << 77 << 4 << 0.8 << dp;
      QTest::newRow(qPrintable(QString("%1 W8 g32").arg(kind))) << 96 << 32 << 8 << 0.9 << dp;
    }
  }
  // Same values as the autograd expression (bit for bit: both divide and
  // round alike), and the same gradients to the weight and the scale up to
  // rounding, with and without the weight's own gradient.
  void matchesTheAutogradExpression() {
    QFETCH(int, in);
    QFETCH(int, group);
    QFETCH(int, bits);
    QFETCH(double, shrink);
    QFETCH(bool, doublePrecision);
    const auto dtype = doublePrecision ? torch::kFloat64 : torch::kFloat32;
    const int64_t qmax = (int64_t{1} << bits) - 1;
    torch::manual_seed(in * 31 + group + bits);
    const auto c = make_case(24, in, group, qmax, shrink, dtype);
    const auto upstream = torch::randn({24, in}, torch::kFloat64).to(dtype);

    for (bool weight_grad : {true, false}) {
      auto w1 = c.w.clone().requires_grad_(weight_grad), s1 = c.scale.clone().requires_grad_(true);
      auto w2 = c.w.clone().requires_grad_(weight_grad), s2 = c.scale.clone().requires_grad_(true);
      const auto fused = quant::fake_quantize_ste(w1, s1, c.zero, group, qmax);
      const auto expected = reference(w2, s2, c.zero, group, qmax);
      QVERIFY(torch::equal(fused, expected));
      (fused * upstream).sum().backward();
      (expected * upstream).sum().backward();
      const double tol = doublePrecision ? 1e-12 : 1e-5;
      QVERIFY2(torch::allclose(s1.grad(), s2.grad(), tol, tol),
               qPrintable(QString("scale gradient off by %1")
                              .arg((s1.grad() - s2.grad()).abs().max().item<double>())));
      // Autograd's chain gives g·s·(1/s), the fused node g itself.
      if (weight_grad) QVERIFY(torch::allclose(w1.grad(), w2.grad(), tol, tol));
      else QVERIFY(!w1.grad().defined());
    }
    // Clipped codes exist, so the masked gradient was exercised.
    if (shrink < 1.0) {
      const auto codes = torch::round(c.w / c.scale.repeat_interleave(group, 1).narrow(1, 0, in)) +
                         c.zero.repeat_interleave(group, 1).narrow(1, 0, in);
      QVERIFY(((codes < 0) | (codes > qmax)).any().item<bool>());
    }
  }

  // Ties round to even, as torch::round: with scale 1 and zero 4, 0.5 → 4,
  // 1.5 → 6, −0.5 → 4, −2.5 → 2 (codes), minus the zero.
  void tiesRoundToEven() {
    const auto w = torch::tensor({0.5f, 1.5f, -0.5f, -2.5f, 2.5f, 3.49f}).reshape({1, 6});
    const auto scale = torch::ones({1, 1}), zero = torch::full({1, 1}, 4.0f);
    const auto q = quant::fake_quantize_ste(w, scale, zero, 6, 15);
    QVERIFY(torch::equal(q, torch::tensor({0.0f, 2.0f, 0.0f, -2.0f, 2.0f, 3.0f}).reshape({1, 6})));
    QVERIFY(torch::equal(q, torch::round(w)));
  }

  // Huge quotients (a tiny scale) clamp to the grid's ends instead of
  // overflowing the rounding trick; a NaN weight stays NaN.
  void extremesClampAndNanPropagates() {
    const auto w = torch::tensor({1e30f, -1e30f, 0.25f, std::nanf("")}).reshape({1, 4});
    const auto q = quant::fake_quantize_ste(w, torch::full({1, 1}, 1e-5f), torch::full({1, 1}, 2.0f), 4, 3);
    QCOMPARE(q[0][0].item<float>(), 1e-5f);
    QCOMPARE(q[0][1].item<float>(), -2e-5f);
    QVERIFY(std::isnan(q[0][3].item<float>()));
  }

  void groupMinMaxMatchesPaddedGroups() {
    torch::manual_seed(5);
    const auto w = torch::randn({6, 80});
    const auto [mn, mx] = quant::group_min_max(w, 32);
    const auto padded = quant::pad_to_groups(w, 32).reshape({6, 3, 32});
    QVERIFY(torch::equal(mn, padded.amin(-1)));
    QVERIFY(torch::equal(mx, padded.amax(-1)));
    const auto [whole_min, whole_max] = quant::group_min_max(w, 80);
    QVERIFY(torch::equal(whole_max, w.amax(1, true)));
    QVERIFY(torch::equal(whole_min, w.amin(1, true)));
  }

  void rejectsMismatchedScales() {
    const auto w = torch::randn({4, 64});
    QVERIFY_THROWS_EXCEPTION(std::exception,
                             quant::fake_quantize_ste(w, torch::ones({4, 3}), torch::zeros({4, 3}), 32, 15));
  }
};

QS_REGISTER_TEST(TestSteFakeQuant);
#include "test_ste_fake_quant.moc"
