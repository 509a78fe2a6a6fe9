#include <QTest>

#include "core/error.h"
#include "core/methods/gptq_solver.h"
#include "core/quant/quantized_linear.h"
#include "tests/support/test_registry.h"

using namespace qs;

namespace {

// Calibration inputs whose 256 channels mix 16 latent factors: strongly
// correlated, as real activations are.
torch::Tensor correlated_inputs(int64_t n, int64_t in, uint64_t seed) {
  torch::manual_seed(seed);
  auto z = torch::randn({n, 16});
  auto mix = torch::randn({16, in});
  return torch::matmul(z, mix) + 0.05 * torch::randn({n, in});
}

// tr((W - Ŵ) H (W - Ŵ)ᵀ): the layer's output error on the calibration inputs.
double output_error(const torch::Tensor& w, const quant::QuantizedLinear& q, const torch::Tensor& h) {
  auto d = (w - q.dequantized_weight()).to(torch::kFloat64);
  return torch::trace(torch::matmul(torch::matmul(d, h.to(torch::kFloat64)), d.t())).item<double>();
}

}  // namespace

class TestGptq : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void hessianIsTwiceTheMeanOuterProduct() {
    torch::manual_seed(1);
    auto x = torch::randn({3, 10, 8});
    methods::HessianAccumulator acc(8, torch::kCPU);
    acc.add(x.narrow(0, 0, 2));
    acc.add(x.narrow(0, 2, 1));
    auto flat = x.reshape({30, 8}).to(torch::kFloat64);
    auto expected = 2.0 / 30.0 * torch::matmul(flat.t(), flat);
    QVERIFY(torch::allclose(acc.hessian().to(torch::kFloat64), expected, 1e-5, 1e-6));
    QVERIFY_THROWS_EXCEPTION(Error, methods::HessianAccumulator(4, torch::kCPU).hessian());
  }

  // With uncorrelated inputs there is no error to spread, so GPTQ is RTN.
  void diagonalHessianGivesRtn() {
    torch::manual_seed(2);
    auto w = torch::randn({16, 64});
    auto h = torch::diag(torch::rand({64}) + 0.5);
    const quant::QuantSpec spec{3, 16, false, 1.0};
    methods::GptqOptions o;
    o.block_size = 24;  // not a multiple of the group, to exercise block edges
    auto q = methods::gptq_quantize(w, h, spec, o);
    auto rtn = quant::QuantizedLinear::round_to_nearest(w, spec);
    QVERIFY(torch::equal(q.codes, rtn.codes));
    QVERIFY(torch::equal(q.zeros, rtn.zeros));
  }

  void beatsRtnOnCorrelatedInputs_data() {
    QTest::addColumn<int>("bits");
    QTest::addColumn<int>("group");
    QTest::addColumn<bool>("actOrder");
    QTest::addColumn<bool>("staticGroups");
    QTest::newRow("W3g128") << 3 << 128 << false << false;
    QTest::newRow("W4g64") << 4 << 64 << false << false;
    QTest::newRow("W2g64") << 2 << 64 << false << false;
    QTest::newRow("W3g128 act-order") << 3 << 128 << true << false;
    QTest::newRow("W3g128 act-order static") << 3 << 128 << true << true;
    QTest::newRow("W4 per-channel") << 4 << 0 << false << false;
  }
  void beatsRtnOnCorrelatedInputs() {
    QFETCH(int, bits);
    QFETCH(int, group);
    QFETCH(bool, actOrder);
    QFETCH(bool, staticGroups);
    auto x = correlated_inputs(2048, 256, 7);
    methods::HessianAccumulator acc(256, torch::kCPU);
    acc.add(x);
    const auto h = acc.hessian();
    torch::manual_seed(8);
    auto w = torch::randn({64, 256}) * 0.02;
    const quant::QuantSpec spec{bits, group, false, 1.0};
    methods::GptqOptions o;
    o.act_order = actOrder;
    o.static_groups = staticGroups;
    auto q = methods::gptq_quantize(w, h, spec, o);
    q.validate("test", "gptq");
    QCOMPARE(q.g_idx.defined(), actOrder && !staticGroups);
    const double e_gptq = output_error(w, q, h);
    const double e_rtn = output_error(w, quant::QuantizedLinear::round_to_nearest(w, spec), h);
    QVERIFY2(e_gptq < 0.7 * e_rtn, qPrintable(QString("GPTQ %1 vs RTN %2").arg(e_gptq).arg(e_rtn)));
  }

  void deadInputsAreZeroed() {
    torch::manual_seed(4);
    auto x = correlated_inputs(512, 32, 5);
    x.select(1, 3).zero_();
    methods::HessianAccumulator acc(32, torch::kCPU);
    acc.add(x);
    auto w = torch::randn({8, 32});
    auto q = methods::gptq_quantize(w, acc.hessian(), {4, 32, false, 1.0}, {});
    QVERIFY(torch::isfinite(q.dequantized_weight()).all().item<bool>());
    // An input that is always zero contributes nothing; its weight quantizes to (near) zero.
    QVERIFY(q.dequantized_weight().select(1, 3).abs().max().item<double>() <= q.scales.max().item<double>());
  }

  void cancelStopsTheSolver() {
    struct CancelAtOnce : Feedback {};
    CancelAtOnce fb;
    fb.cancel();
    auto w = torch::randn({8, 256});
    QVERIFY_THROWS_EXCEPTION(Cancelled, methods::gptq_quantize(w, torch::eye(256), {4, 128, false, 1.0}, {}, &fb));
  }
};

QS_REGISTER_TEST(TestGptq);
#include "test_gptq.moc"
