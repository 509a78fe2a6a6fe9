#include <QTest>

#include "core/model/decoder.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
using model::LinearRole;

namespace {

// y = W·(T·x), counting how often it transforms an input.
class CountingTransformOp final : public model::LinearOp {
 public:
  CountingTransformOp(torch::Tensor w, torch::Tensor t, std::shared_ptr<int> count)
      : w_(std::move(w)), t_(std::move(t)), count_(std::move(count)) {}
  torch::Tensor forward(const torch::Tensor& x) const override { return forward_transformed(transform_input(x), x); }
  int64_t in_features() const override { return w_.size(1); }
  int64_t out_features() const override { return w_.size(0); }
  torch::Tensor dense_weight() const override { return torch::matmul(w_, t_); }
  torch::Tensor bias() const override { return {}; }
  torch::Tensor input_transform() const override { return t_; }
  torch::Tensor transform_input(const torch::Tensor& x) const override {
    ++*count_;
    return torch::linear(x, t_);
  }
  torch::Tensor forward_transformed(const torch::Tensor& tx, const torch::Tensor&) const override {
    return torch::linear(tx, w_);
  }

 private:
  torch::Tensor w_, t_;
  std::shared_ptr<int> count_;
};

struct Fixture {
  model::Decoder dec;
  model::Decoder folded;
  torch::Tensor hidden;
  std::shared_ptr<int> count = std::make_shared<int>(0);

  Fixture()
      : dec(test::make_tiny_llama(test::tiny_config(), 5), torch::kCPU, torch::kFloat32),
        folded(test::make_tiny_llama(test::tiny_config(), 5), torch::kCPU, torch::kFloat32),
        hidden(dec.embed(torch::randint(0, 101, {2, 9}, torch::kLong))) {}

  // Puts W·(T·x) with transform `t` at `role` of block 0, and the dense W·T
  // at the same site of `folded`.
  void install(LinearRole role, const torch::Tensor& t) {
    const auto w = dec.linear(0, role)->dense_weight();
    dec.set_linear(0, role, std::make_shared<CountingTransformOp>(w, t, count));
    folded.set_linear(0, role, std::make_shared<model::DenseLinear>(torch::matmul(w, t), torch::Tensor()));
  }
};

torch::Tensor near_identity(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::eye(n) + 0.05 * torch::randn({n, n});
}

}  // namespace

class TestSharedTransforms : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // Equal transforms are shared whether they are one tensor or equal copies
  // (records loaded from a file each hold their own); a different one, or one
  // equal to an earlier but not the previous linear's, is computed anew.
  void qkvTransformTheirInputOnce_data() {
    QTest::addColumn<QString>("pattern");
    QTest::addColumn<int>("products");
    QTest::newRow("one tensor") << "aaa" << 1;
    QTest::newRow("equal copies") << "abc" << 1;
    QTest::newRow("last differs") << "aaX" << 2;
    QTest::newRow("middle differs") << "aXa" << 3;
  }
  void qkvTransformTheirInputOnce() {
    QFETCH(QString, pattern);
    QFETCH(int, products);
    Fixture f;
    const int64_t h = test::tiny_config().hidden_size;
    const auto t = near_identity(h, 1), other = near_identity(h, 2);
    const std::array<LinearRole, 3> roles = {LinearRole::Q, LinearRole::K, LinearRole::V};
    for (size_t i = 0; i < roles.size(); ++i) {
      const char c = pattern.at(static_cast<int>(i)).toLatin1();
      f.install(roles[i], c == 'X' ? other : c == 'a' ? t : t.clone());
    }
    const auto out = f.dec.run_block(0, f.hidden);
    QCOMPARE(*f.count, products);
    QVERIFY(torch::allclose(out, f.folded.run_block(0, f.hidden), 1e-4, 1e-5));
  }

  void gateAndUpShareTheirsAndARestoredBlockForgetsIt() {
    Fixture f;
    const int64_t h = test::tiny_config().hidden_size;
    const auto saved = f.dec.block_state(0);
    const auto t = near_identity(h, 3);
    f.install(LinearRole::Gate, t);
    f.install(LinearRole::Up, t.clone());
    const auto out = f.dec.run_block(0, f.hidden);
    QCOMPARE(*f.count, 1);
    QVERIFY(torch::allclose(out, f.folded.run_block(0, f.hidden), 1e-4, 1e-5));
    f.dec.restore_block_state(0, saved);
    f.dec.run_block(0, f.hidden);
    QCOMPARE(*f.count, 1);
  }

  // The shared product carries the gradient of every linear reading it: the
  // transform's gradient equals the one through the folded weights W·T.
  void gradientsMatchTheFoldedWeights() {
    Fixture f;
    const int64_t h = test::tiny_config().hidden_size;
    const auto t = near_identity(h, 4).requires_grad_(true);
    const auto t_folded = t.detach().clone().requires_grad_(true);
    for (auto role : {LinearRole::Q, LinearRole::K, LinearRole::V}) {
      const auto w = f.dec.linear(0, role)->dense_weight();
      f.dec.set_linear(0, role, std::make_shared<CountingTransformOp>(w, t, f.count));
      f.folded.set_linear(0, role, std::make_shared<model::DenseLinear>(torch::matmul(w, t_folded), torch::Tensor()));
    }
    f.dec.run_block(0, f.hidden).pow(2).mean().backward();
    f.folded.run_block(0, f.hidden).pow(2).mean().backward();
    QCOMPARE(*f.count, 1);
    QVERIFY(torch::allclose(t.grad(), t_folded.grad(), 1e-4, 1e-5));
  }
};

QS_REGISTER_TEST(TestSharedTransforms);
#include "test_shared_transforms.moc"
