#include <QTest>

#include "core/error.h"
#include "core/methods/gptq_solver.h"
#include "core/quant/quantized_linear.h"
#include "core/quant/uniform_quantizer.h"
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


// The official GPTQ sweep (IST-DASLab/gptq, GPTQ.fasterquant) written in
// plain torch ops, column by column, as an independent reference for the
// solver (no act-order, no static groups).
torch::Tensor reference_gptq_codes(torch::Tensor w, torch::Tensor h, const quant::QuantSpec& spec, int64_t block) {
  const int64_t out = w.size(0), in = w.size(1), g = spec.effective_group(in);
  w = w.clone();
  h = h.clone();
  h.diagonal().add_(0.01 * h.diagonal().mean().item<double>());
  auto hinv = torch::linalg_cholesky(torch::cholesky_inverse(torch::linalg_cholesky(h)), /*upper=*/true);
  auto codes = torch::zeros({out, in});
  torch::Tensor scale, zero;
  for (int64_t i1 = 0; i1 < in; i1 += block) {
    const int64_t count = std::min(block, in - i1);
    auto w1 = w.narrow(1, i1, count).clone();
    auto err1 = torch::zeros_like(w1);
    auto hinv1 = hinv.narrow(0, i1, count).narrow(1, i1, count);
    for (int64_t i = 0; i < count; ++i) {
      if ((i1 + i) % g == 0) {
        auto p = quant::compute_slice_params(w.narrow(1, i1 + i, std::min(g, in - i1 - i)), spec);
        scale = p.scales.squeeze(1);
        zero = p.zeros.squeeze(1).to(torch::kFloat32);
      }
      auto col = w1.select(1, i);
      auto c = torch::clamp(torch::round(col / scale) + zero, 0, static_cast<double>(spec.max_code()));
      codes.select(1, i1 + i).copy_(c);
      auto e = (col - (c - zero) * scale) / hinv1[i][i];
      w1.narrow(1, i, count - i).sub_(e.unsqueeze(1).matmul(hinv1.select(0, i).narrow(0, i, count - i).unsqueeze(0)));
      err1.select(1, i).copy_(e);
    }
    w.narrow(1, i1 + count, in - i1 - count).sub_(err1.matmul(hinv.narrow(0, i1, count).narrow(1, i1 + count, in - i1 - count)));
  }
  return codes.to(torch::kUInt8);
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

  void takeHessianHandsOverTheScaledSum() {
    torch::manual_seed(1);
    auto x = torch::randn({40, 8});
    methods::HessianAccumulator acc(8, torch::kCPU);
    acc.add(x);
    const auto copied = acc.hessian();
    QVERIFY(torch::equal(acc.take_hessian(), copied));
    QCOMPARE(acc.samples(), int64_t{0});
    QVERIFY_THROWS_EXCEPTION(Error, acc.take_hessian());
  }

  // The in-place solve is the same arithmetic on the same values: codes,
  // scales and zeros equal the copying solve's bit for bit.
  void consumingSolveEqualsCopyingSolve_data() {
    QTest::addColumn<bool>("actOrder");
    QTest::newRow("columns in order") << false;
    QTest::newRow("act-order") << true;
  }
  void consumingSolveEqualsCopyingSolve() {
    QFETCH(bool, actOrder);
    auto x = correlated_inputs(1024, 192, 11);
    methods::HessianAccumulator acc(192, torch::kCPU);
    acc.add(x);
    torch::manual_seed(12);
    auto w = torch::randn({48, 192});
    const quant::QuantSpec spec{3, 64, false, 1.0};
    methods::GptqOptions o;
    o.act_order = actOrder;
    const auto copied = methods::gptq_quantize(w, acc.hessian(), spec, o);
    auto h = acc.take_hessian();
    const auto consumed = methods::gptq_quantize_consuming(w, std::move(h), spec, o);
    QVERIFY(torch::equal(consumed.codes, copied.codes));
    QVERIFY(torch::equal(consumed.scales, copied.scales));
    QVERIFY(torch::equal(consumed.zeros, copied.zeros));
  }

  // H = I - 1.05 vvᵀ has one eigenvalue of -0.05: the first damping (1% of
  // the mean diagonal) leaves it indefinite, the second (10%) does not. The
  // retry must start from the undamped H, so its result equals a solve asked
  // for 10% at once.
  void indefiniteHessianRetriesFromTheUndampedValues() {
    struct Log : Feedback {
      std::string lines;
      void on_log(const std::string& line) override { lines += line + "\n"; }
    };
    const int64_t in = 64;
    auto v = torch::randn({in, 1}, torch::TensorOptions().dtype(torch::kFloat64));
    v /= v.norm();
    auto h = (torch::eye(in, torch::kFloat64) - 1.05 * v.matmul(v.t())).to(torch::kFloat32);
    torch::manual_seed(13);
    auto w = torch::randn({16, in});
    const quant::QuantSpec spec{4, 32, false, 1.0};
    Log log;
    auto retried = methods::gptq_quantize_consuming(w, h.clone(), spec, {}, &log);
    QVERIFY2(log.lines.find("retrying") != std::string::npos, log.lines.c_str());
    methods::GptqOptions at_once;
    at_once.damp_percent = 0.1;
    Log quiet;
    auto direct = methods::gptq_quantize(w, h, spec, at_once, &quiet);
    QVERIFY(quiet.lines.empty());
    QVERIFY(torch::equal(retried.codes, direct.codes));
    QVERIFY(torch::equal(retried.scales, direct.scales));
  }

  // With uncorrelated inputs there is no error to spread, so GPTQ is RTN.
  void matchesTheOfficialSweep_data() {
    QTest::addColumn<int>("out");
    QTest::addColumn<int>("in");
    QTest::addColumn<int>("bits");
    QTest::addColumn<int>("group");
    QTest::addColumn<int>("block");
    QTest::newRow("blocks straddle groups") << 40 << 96 << 3 << 32 << 40;
    QTest::newRow("SmolLM k_proj W4g64") << 192 << 576 << 4 << 64 << 128;
    QTest::newRow("short last group") << 64 << 200 << 3 << 128 << 128;
  }
  void matchesTheOfficialSweep() {
    QFETCH(int, out);
    QFETCH(int, in);
    QFETCH(int, bits);
    QFETCH(int, group);
    QFETCH(int, block);
    auto x = correlated_inputs(2048, in, 4);
    auto h = 2.0 * x.t().matmul(x) / 2048.0;
    torch::manual_seed(5);
    auto w = torch::randn({out, in});
    const quant::QuantSpec spec{bits, group, false, 1.0};
    methods::GptqOptions o;
    o.block_size = block;
    auto q = methods::gptq_quantize(w, h, spec, o);
    auto ref = reference_gptq_codes(w, h, spec, block);
    // Summation order differs (a loop against matmul), so a code at a rounding
    // tie may flip; anything more would be a different algorithm.
    const double same = q.codes.eq(ref).to(torch::kFloat32).mean().item<double>();
    QVERIFY2(same > 0.995, std::to_string(same).c_str());
  }

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
