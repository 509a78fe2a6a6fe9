#include <QTest>

#include "core/error.h"
#include "core/model/quantized_linear_op.h"
#include "core/quant/method_params.h"
#include "core/quant/quantized_linear.h"
#include "tests/quant/random_layer.h"
#include "tests/support/test_registry.h"

using namespace qs;

class TestQuantizedLinear : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void forwardIsTheEffectiveWeight() {
    torch::manual_seed(5);
    auto q = test::random_layer(12, 32, 4, 8);
    q.bias = torch::randn({12});
    q.transform = torch::eye(32) + 0.1 * torch::randn({32, 32});
    q.lora_a = torch::randn({3, 32});
    q.lora_b = torch::randn({12, 3});
    q.validate("test", "layer");
    auto shared = std::make_shared<const quant::QuantizedLinear>(q);
    model::QuantizedLinearOp op(shared, torch::kCPU, torch::kFloat64);
    auto x = torch::randn({2, 5, 32}, torch::kFloat64);
    // Spelled out: W_hat (T x) + b + B (A x).
    auto w_hat = q.dequantized_weight().to(torch::kFloat64);
    auto expected = torch::matmul(torch::matmul(x, q.transform.to(torch::kFloat64).t()), w_hat.t()) +
                    q.bias.to(torch::kFloat64) +
                    torch::matmul(torch::matmul(x, q.lora_a.to(torch::kFloat64).t()), q.lora_b.to(torch::kFloat64).t());
    QVERIFY(torch::allclose(op.forward(x), expected, 1e-9, 1e-9));
    QVERIFY(
        torch::allclose(torch::matmul(x, op.dense_weight().t()) + q.bias.to(torch::kFloat64), expected, 1e-9, 1e-9));
    QVERIFY(torch::allclose(q.effective_weight().to(torch::kFloat64), op.dense_weight(), 1e-5, 1e-5));
  }

  // A record holding its codes packed computes what the unpacked one does, and
  // hands out the same codes either way.
  void packedCodesAreTheSameLayer() {
    torch::manual_seed(6);
    for (int bits : {2, 3, 4, 5, 8}) {
      auto q = test::random_layer(12, 40, bits, 8);
      q.validate("test", "layer");
      const auto p = q.with_packed_codes();
      QVERIFY(!p.codes.defined() && p.packed_codes.defined());
      p.validate("test", "layer");
      QVERIFY(torch::equal(p.unpacked_codes(), q.codes));
      QVERIFY(torch::equal(p.packed(), q.packed()));
      QVERIFY(torch::equal(p.dequantized_weight(), q.dequantized_weight()));
      const auto x = torch::randn({3, 40});
      model::QuantizedLinearOp a(std::make_shared<const quant::QuantizedLinear>(q), torch::kCPU, torch::kFloat32);
      model::QuantizedLinearOp b(std::make_shared<const quant::QuantizedLinear>(p), torch::kCPU, torch::kFloat32);
      QVERIFY(torch::equal(a.forward(x), b.forward(x)));
    }
    auto both = test::random_layer(4, 16, 3, 8);
    both.packed_codes = both.packed();
    QVERIFY_THROWS_EXCEPTION(FormatError, both.validate("f", "n"));
    auto short_rows = test::random_layer(4, 16, 3, 8).with_packed_codes();
    short_rows.packed_codes = short_rows.packed_codes.narrow(1, 0, 1);
    try {
      short_rows.validate("ckpt.safetensors", "model.layers.0.mlp.up_proj");
      QFAIL("no error");
    } catch (const FormatError& e) {
      QVERIFY2(QString(e.what()).contains("up_proj codes (packed)"), e.what());
    }
  }

  void validateNamesTheField() {
    auto q = test::random_layer(4, 16, 3, 8);
    q.scales = q.scales.narrow(1, 0, 1);
    try {
      q.validate("ckpt.safetensors", "model.layers.0.mlp.up_proj");
      QFAIL("no error");
    } catch (const FormatError& e) {
      QVERIFY2(QString(e.what()).contains("up_proj scales"), e.what());
      QVERIFY2(QString(e.what()).contains("ckpt.safetensors"), e.what());
    }
    auto r = test::random_layer(4, 16, 3, 8);
    r.codes[0][0] = 9;
    QVERIFY_THROWS_EXCEPTION(FormatError, r.validate("f", "n"));
    auto s = test::random_layer(4, 16, 3, 8);
    s.lora_a = torch::zeros({2, 16});
    QVERIFY_THROWS_EXCEPTION(FormatError, s.validate("f", "n"));
    auto t = test::random_layer(4, 16, 3, 8);
    t.g_idx = torch::full({16}, 2, torch::kInt32);
    QVERIFY_THROWS_EXCEPTION(FormatError, t.validate("f", "n"));
  }

  void methodParamsAreTyped() {
    quant::MethodParams p({{"damp", 0.01, "", 0.0, 1.0, {}},
                           {"steps", int64_t{20}, "", 1, 100, {}},
                           {"flag", false, "", 0, 0, {}},
                           {"mode", std::string("a"), "", 0, 0, {"a", "b"}}});
    QCOMPARE(p.get_double("damp"), 0.01);
    p.set("damp", int64_t{1}, "cfg");  // an integer is a valid float
    QCOMPARE(p.get_double("damp"), 1.0);
    QVERIFY_THROWS_EXCEPTION(ConfigError, p.set("damp", 2.0, "cfg"));
    QVERIFY_THROWS_EXCEPTION(ConfigError, p.set("steps", 2.5, "cfg"));
    QVERIFY_THROWS_EXCEPTION(ConfigError, p.set("steps", int64_t{0}, "cfg"));
    QVERIFY_THROWS_EXCEPTION(ConfigError, p.set("flag", int64_t{1}, "cfg"));
    QVERIFY_THROWS_EXCEPTION(ConfigError, p.set("mode", std::string("c"), "cfg"));
    QVERIFY_THROWS_EXCEPTION(ConfigError, p.set("nope", true, "cfg"));
    p.set("mode", std::string("b"), "cfg");
    QCOMPARE(QString::fromStdString(p.get_string("mode")), QString("b"));
  }
};

QS_REGISTER_TEST(TestQuantizedLinear);
#include "test_quantized_linear.moc"
