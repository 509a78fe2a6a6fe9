#include <QTest>

#include "core/methods/transformed_inputs.h"
#include "tests/support/test_registry.h"

using namespace qs;

class TestTransformedInputs : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void aSharedInputIsTransformedOnce() {
    torch::manual_seed(0);
    const auto x = torch::randn({2, 5, 8}), t = torch::randn({8, 8});
    methods::TransformedInputs inputs;
    const auto a = inputs.apply(x, t);
    const auto b = inputs.apply(x, t);
    QVERIFY(a.is_same(b));
    QCOMPARE(inputs.size(), size_t{1});
    QVERIFY(torch::allclose(a, torch::matmul(x, t.t()), 1e-5, 1e-6));
  }

  // Equal values are not the same input: only the tensors themselves are
  // shared, so a caller's new activations are never answered from the cache.
  void anotherInputOrTransformIsComputedAnew() {
    torch::manual_seed(1);
    const auto x = torch::randn({4, 6}), t = torch::randn({6, 6});
    methods::TransformedInputs inputs;
    const auto a = inputs.apply(x, t);
    const auto b = inputs.apply(x.clone(), t);
    const auto c = inputs.apply(x, t.clone());
    QVERIFY(!a.is_same(b) && !a.is_same(c));
    QCOMPARE(inputs.size(), size_t{3});
    inputs.clear();
    QCOMPARE(inputs.size(), size_t{0});
    QVERIFY(!inputs.apply(x, t).is_same(a));
  }

  void aDiagonalScalesTheChannels() {
    torch::manual_seed(2);
    const auto x = torch::randn({3, 7}, torch::kFloat64), d = torch::rand({7}) + 0.5;
    methods::TransformedInputs inputs;
    const auto y = inputs.apply(x, d);
    QCOMPARE(y.scalar_type(), torch::kFloat64);
    QVERIFY(torch::allclose(y, x * d.to(torch::kFloat64).unsqueeze(0)));
  }

  // Two linears reading one kept product get the same gradients as with the
  // transform folded into each weight (W·T), which is what the training step
  // computed before.
  void gradientsMatchTheFoldedWeights() {
    torch::manual_seed(3);
    const auto x0 = torch::randn({16, 8}, torch::kFloat64), w1 = torch::randn({5, 8}, torch::kFloat64),
               w2 = torch::randn({3, 8}, torch::kFloat64), t0 = torch::randn({8, 8}, torch::kFloat64);
    const auto shared_x = x0.clone().requires_grad_(true), shared_t = t0.clone().requires_grad_(true);
    methods::TransformedInputs inputs;
    (torch::linear(inputs.apply(shared_x, shared_t), w1).pow(2).sum() +
     torch::linear(inputs.apply(shared_x, shared_t), w2).pow(2).sum())
        .backward();
    const auto folded_x = x0.clone().requires_grad_(true), folded_t = t0.clone().requires_grad_(true);
    (torch::linear(folded_x, torch::matmul(w1, folded_t)).pow(2).sum() +
     torch::linear(folded_x, torch::matmul(w2, folded_t)).pow(2).sum())
        .backward();
    QVERIFY(torch::allclose(shared_t.grad(), folded_t.grad(), 1e-10, 1e-10));
    QVERIFY(torch::allclose(shared_x.grad(), folded_x.grad(), 1e-10, 1e-10));
  }
};

QS_REGISTER_TEST(TestTransformedInputs);
#include "test_transformed_inputs.moc"
