#include <QTemporaryDir>
#include <QTest>

#include "core/checkpoint/model_loader.h"
#include "core/error.h"
#include "core/model/decoder.h"
#include "tests/model/reference_llama.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  auto d = a.to(torch::kFloat64) - b.to(torch::kFloat64);
  return (d.norm() / b.to(torch::kFloat64).norm()).item<double>();
}

}  // namespace

class TestDecoder : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void forwardMatchesReference_data() {
    QTest::addColumn<QString>("variant");
    QTest::newRow("llama-gqa") << "llama";
    QTest::newRow("mha") << "mha";
    QTest::newRow("qwen2-bias") << "qwen2";
    QTest::newRow("smollm-tied") << "tied";
    QTest::newRow("head_dim-override") << "head_dim";
  }
  void forwardMatchesReference() {
    QFETCH(QString, variant);
    auto c = test::tiny_config();
    if (variant == "mha") c.num_kv_heads = c.num_heads;
    if (variant == "qwen2") c.architecture = "qwen2", c.attention_bias = true;
    if (variant == "tied") c.tie_word_embeddings = true, c.rope_theta = 100000.0;
    if (variant == "head_dim") c.head_dim = 8;
    const auto w = test::make_tiny_llama(c, 7);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    auto ids = torch::randint(0, c.vocab_size, {2, 19}, torch::kLong);
    auto logits = dec.forward(ids);
    QCOMPARE(logits.sizes().vec(), (std::vector<int64_t>{2, 19, c.vocab_size}));
    for (int64_t b = 0; b < 2; ++b) {
      auto ref = test::reference_llama_forward(w, ids[b], test::reference_inv_freq(c));
      const double e = rel_err(logits[b], ref);
      QVERIFY2(e < 1e-5, qPrintable(QString("relative error %1").arg(e)));
    }
  }

  void forwardTailEqualsSliceOfForward() {
    const auto w = test::make_tiny_llama(test::tiny_config(), 3);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    auto ids = torch::randint(0, 101, {1, 16}, torch::kLong);
    QVERIFY(torch::allclose(dec.forward_tail(ids, 10), dec.forward(ids).narrow(1, 10, 6), 1e-5, 1e-5));
    QVERIFY_THROWS_EXCEPTION(ArgumentError, dec.forward_tail(ids, 16));
  }

  void llama3RopeScaling() {
    auto c = test::tiny_config();
    c.head_dim = 64, c.num_heads = 1, c.num_kv_heads = 1, c.rope_theta = 500000.0;
    c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 8192};
    auto inv = model::rope_inv_freq(c).to(torch::kFloat64);
    // Llama 3.1's rule, element by element: wavelength above 8192 → /8, below
    // 2048 → kept, between → linear blend in old_ctx / wavelength.
    auto base = test::reference_inv_freq(c);
    for (int64_t i = 0; i < 32; ++i) {
      const double f = base[i].item<double>(), wl = 2 * M_PI / f;
      double expect = f;
      if (wl > 8192)
        expect = f / 8;
      else if (wl >= 2048) {
        const double s = (8192 / wl - 1.0) / 3.0;
        expect = (1 - s) * f / 8 + s * f;
      }
      QVERIFY2(std::abs(inv[i].item<double>() - expect) <= 1e-6 * expect, qPrintable(QString::number(i)));
    }
    QVERIFY(inv[31].item<double>() < base[31].item<double>() / 7.9);  // long wavelengths were scaled
    QCOMPARE(inv[0].item<double>(), 1.0);
  }

  void hooksSeeEveryLinearAndBlock() {
    const auto c = test::tiny_config();
    const auto w = test::make_tiny_llama(c, 5);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    std::vector<std::string> seen;
    std::vector<int64_t> blocks;
    auto lh = dec.add_linear_hook([&](const model::LinearSite& s, const torch::Tensor& in, const torch::Tensor& out) {
      seen.push_back(s.name);
      QCOMPARE(in.size(-1), dec.linear(s.layer, s.role)->in_features());
      QCOMPARE(out.size(-1), dec.linear(s.layer, s.role)->out_features());
    });
    auto bh = dec.add_block_hook([&](int64_t l, const torch::Tensor& in, const torch::Tensor& out) {
      blocks.push_back(l);
      QCOMPARE(in.sizes(), out.sizes());
    });
    dec.forward(torch::randint(0, 101, {1, 8}, torch::kLong));
    QCOMPARE(seen.size(), size_t(14));
    QCOMPARE(seen.front(), std::string("model.layers.0.self_attn.q_proj"));
    QCOMPARE(seen.back(), std::string("model.layers.1.mlp.down_proj"));
    QCOMPARE(blocks, (std::vector<int64_t>{0, 1}));
    dec.remove_hook(lh);
    dec.remove_hook(bh);
    dec.forward(torch::randint(0, 101, {1, 8}, torch::kLong));
    QCOMPARE(seen.size(), size_t(14));
  }

  void setLinearChangesOutputAndChecksShape() {
    const auto w = test::make_tiny_llama(test::tiny_config(), 9);
    model::Decoder dec(w, torch::kCPU, torch::kFloat32);
    auto ids = torch::randint(0, 101, {1, 8}, torch::kLong);
    auto before = dec.forward(ids);
    auto old = dec.linear(1, model::LinearRole::Down);
    dec.set_linear(1, model::LinearRole::Down,
                   std::make_shared<model::DenseLinear>(torch::zeros_like(old->dense_weight()), torch::Tensor()));
    QVERIFY(!torch::allclose(before, dec.forward(ids)));
    dec.set_linear(1, model::LinearRole::Down, old);
    QVERIFY(torch::allclose(before, dec.forward(ids)));
    QVERIFY_THROWS_EXCEPTION(
        ArgumentError, dec.set_linear(0, model::LinearRole::Q,
                                      std::make_shared<model::DenseLinear>(torch::zeros({3, 3}), torch::Tensor())));
  }

  void loadsFromHfDirectory() {
    QTemporaryDir dir;
    auto c = test::tiny_config();
    c.attention_bias = true, c.architecture = "qwen2";
    const auto w = test::make_tiny_llama(c, 11);
    test::write_hf_checkpoint(w, dir.path().toStdString());
    const auto loaded = checkpoint::load_model(dir.path().toStdString());
    QCOMPARE(loaded.config.architecture, std::string("qwen2"));
    QCOMPARE(loaded.tensors.size(), w.tensors.size());
    for (const auto& [name, t] : w.tensors) QVERIFY2(torch::equal(loaded.at(name), t), name.c_str());
    QCOMPARE(checkpoint::parameter_count(loaded), checkpoint::parameter_count(w));
  }

  // A token id the embedding has no row for is an error saying so, not
  // libtorch's "index out of range in self".
  void idsOutsideTheVocabularyAreNamed() {
    const auto c = test::tiny_config();
    model::Decoder dec(test::make_tiny_llama(c, 2), torch::kCPU, torch::kFloat32);
    for (int64_t bad : {c.vocab_size, int64_t{-1}}) {
      const auto ids = torch::tensor({{int64_t{1}, bad, int64_t{2}}});
      try {
        dec.forward(ids);
        QFAIL("no error");
      } catch (const ArgumentError& e) {
        QVERIFY2(QString(e.what()).contains("token id " + QString::number(bad)) &&
                     QString(e.what()).contains("vocabulary of " + QString::number(c.vocab_size)),
                 e.what());
      }
    }
  }

  void missingOrMisshapenTensorNamesIt() {
    auto w = test::make_tiny_llama(test::tiny_config(), 1);
    w.source = "/models/tiny";
    auto broken = w;
    broken.tensors.erase("model.layers.1.mlp.up_proj.weight");
    try {
      model::Decoder dec(broken, torch::kCPU, torch::kFloat32);
      QFAIL("no error for a missing tensor");
    } catch (const FormatError& e) {
      QVERIFY2(QString(e.what()).contains("model.layers.1.mlp.up_proj.weight"), e.what());
      QVERIFY2(QString(e.what()).contains("/models/tiny"), e.what());
    }
    broken = w;
    broken.tensors["model.layers.0.self_attn.k_proj.weight"] = torch::zeros({5, 64});
    try {
      model::Decoder dec(broken, torch::kCPU, torch::kFloat32);
      QFAIL("no error for a misshapen tensor");
    } catch (const FormatError& e) {
      QVERIFY2(QString(e.what()).contains("k_proj") && QString(e.what()).contains("[5, 64]"), e.what());
    }
  }
};

QS_REGISTER_TEST(TestDecoder);
#include "test_decoder.moc"
