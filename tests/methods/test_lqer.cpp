#include <QTest>

#include "core/methods/lqer.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "tests/methods/method_runs.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

double output_error(const torch::Tensor& x, const torch::Tensor& w, const quant::QuantizedLinear& q) {
  return (torch::matmul(x, (w - q.effective_weight()).t())).pow(2).sum().item<double>();
}

double total_output_error(const pipeline::PipelineResult& r) {
  double e = 0;
  for (const auto& l : r.layers) e += l.output_rel_mse;
  return e;
}

}  // namespace

class TestLqer : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // Eckart–Young, checked independently: the rank-k branch leaves exactly the
  // tail of the weighted error's spectrum, and full rank restores W.
  void branchIsTheBestRankKApproximationOfTheWeightedError() {
    torch::manual_seed(1);
    const auto w = torch::randn({48, 64});
    const auto s = torch::rand({64}) * 3 + 0.1;
    auto q = quant::QuantizedLinear::round_to_nearest(w, {3, 16, false, 1.0});
    const auto e = w - q.dequantized_weight();
    methods::add_error_branch(q, w, 4, s);
    QCOMPARE(q.lora_a.sizes().vec(), (std::vector<int64_t>{4, 64}));
    QCOMPARE(q.lora_b.sizes().vec(), (std::vector<int64_t>{48, 4}));
    const auto sv = torch::linalg_svdvals(e * s.unsqueeze(0));
    const double tail = sv.narrow(0, 4, sv.size(0) - 4).pow(2).sum().item<double>();
    const double left = ((w - q.effective_weight()) * s.unsqueeze(0)).pow(2).sum().item<double>();
    QVERIFY2(std::abs(left - tail) < 1e-4 * tail, qPrintable(QString("%1 vs %2").arg(left).arg(tail)));

    methods::add_error_branch(q, w, 1000, s);  // capped at min(out, in)
    QCOMPARE(q.lora_a.size(0), int64_t{48});
    QVERIFY(torch::allclose(q.effective_weight(), w, 1e-4, 1e-4));
  }

  // With a few loud input channels, weighing the SVD by mean |x| (L²QER)
  // removes more output error at the same rank than plain LQER.
  void activationScalingHelpsOnOutlierChannels() {
    torch::manual_seed(2);
    const auto w = torch::randn({64, 96});
    auto x = torch::randn({512, 96});
    x.narrow(1, 7, 3).mul_(30.0);
    const auto base = quant::QuantizedLinear::round_to_nearest(w, {3, 32, false, 1.0});
    auto plain = base, scaled = base;
    methods::add_error_branch(plain, w, 8, {});
    auto s = x.abs().mean(0);
    s = s / torch::sqrt(s.min() * s.max());
    methods::add_error_branch(scaled, w, 8, s);
    const double e0 = output_error(x, w, base), e1 = output_error(x, w, plain), e2 = output_error(x, w, scaled);
    QVERIFY2(e1 < e0 && e2 < 0.8 * e1, qPrintable(QString("rtn %1, lqer %2, l2qer %3").arg(e0).arg(e1).arg(e2)));
  }

  // In the pipeline, on RTN or on GPTQ, the branch lowers every layer's error.
  void lowersOutputErrorOnItsBase() {
    const auto w = test::make_tiny_llama(test::tiny_config(), 8);
    for (const std::string base : {"rtn", "gptq"}) {
      model::Decoder plain(w, torch::kCPU, torch::kFloat32), lqer(w, torch::kCPU, torch::kFloat32);
      const auto r0 = test::run_method(plain, base);
      const auto r1 = test::run_method(lqer, "lqer", {{"base", base}, {"rank", int64_t{8}}});
      for (size_t i = 0; i < r0.layers.size(); ++i)
        QVERIFY2(r1.layers[i].output_rel_mse < r0.layers[i].output_rel_mse,
                 qPrintable(QString::fromStdString(base + " " + r0.layers[i].name)));
      QVERIFY(r1.layers[0].record->lora_a.size(0) == 8);
      QVERIFY(total_output_error(r1) < 0.9 * total_output_error(r0));
    }
  }
};

QS_REGISTER_TEST(TestLqer);
#include "test_lqer.moc"
