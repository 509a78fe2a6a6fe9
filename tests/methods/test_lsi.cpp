#include <QTest>

#include "core/methods/lsi.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "tests/methods/method_runs.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

// Mean squared gap between the logits of `dec` and of the FP model on the
// calibration sequences: what the block-wise training drives down.
double logit_gap(const model::ModelWeights& weights, model::Decoder& dec) {
  model::Decoder fp(weights, torch::kCPU, torch::kFloat32);
  const auto ids = test::method_calibration(dec.config().vocab_size).ids;
  return (dec.forward(ids) - fp.forward(ids)).pow(2).mean().item<double>();
}

}  // namespace

class TestLsi : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // Before training, W′ is W (zero increments, zero block), and a change of
  // one increment moves W′ by exactly that singular direction.
  void startsAtTheWeightAndMovesAlongSingularDirections() {
    torch::manual_seed(9);
    const auto w = torch::randn({40, 56});
    methods::SingularIncrement inc(w, 4);
    QCOMPARE(inc.parameters().size(), size_t{2});
    QVERIFY(torch::allclose(inc.weight(), w, 1e-4, 1e-4));
    const auto [u, s, vh] = torch::linalg_svd(w, false);
    {
      torch::NoGradGuard g;
      inc.parameters()[0][2].add_(0.5);
    }
    const auto expected = w + 0.5 * torch::outer(u.select(1, 2), vh.select(0, 2));
    QVERIFY(torch::allclose(inc.weight(), expected, 1e-4, 1e-4));
    QCOMPARE(methods::SingularIncrement(w, 0).parameters().size(), size_t{1});
  }

  // Learned increments bring the model's outputs closer to the FP model's
  // than RTN does, with and without LWC beside them; the metrics still
  // compare each layer against its original W.
  void beatsRoundToNearestAndKeepsTheOriginalReference() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 10);
    model::Decoder rtn(weights, torch::kCPU, torch::kFloat32);
    test::run_method(rtn, "rtn");
    const double gap_rtn = logit_gap(weights, rtn);
    for (bool lwc : {false, true}) {
      model::Decoder dec(weights, torch::kCPU, torch::kFloat32);
      const auto r =
          test::run_method(dec, "lsi", {{"epochs", int64_t{6}}, {"lr", 5e-3}, {"lwc", lwc}, {"top_block", int64_t{4}}});
      const double gap = logit_gap(weights, dec);
      QVERIFY2(gap < gap_rtn, qPrintable(QString("lwc %1: lsi %2, rtn %3").arg(lwc).arg(gap).arg(gap_rtn)));
      const auto& q = r.layers[0];
      QCOMPARE(q.name, std::string("model.layers.0.self_attn.q_proj"));
      const double expected_mse = (weights.at("model.layers.0.self_attn.q_proj.weight").to(torch::kFloat32) -
                                   q.record->effective_weight())
                                      .pow(2)
                                      .mean()
                                      .item<double>();
      QVERIFY(std::abs(q.weight_mse - expected_mse) <= 1e-9 + 1e-6 * expected_mse);
    }
  }
};

QS_REGISTER_TEST(TestLsi);
#include "test_lsi.moc"
