#include <QTest>
#include <numeric>

#include "core/error.h"
#include "core/methods/learnable_clipping.h"
#include "core/model/decoder.h"
#include "core/methods/block_context.h"
#include "core/pipeline/pipeline.h"
#include "tests/methods/method_runs.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

const quant::QuantSpec kW3g32{3, 32, false, 1.0};

}  // namespace

class TestLwc : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // Factors fixed at 1 are round-to-nearest, bit for bit, for every grid
  // kind, including a last group shorter than the others.
  void unitFactorsAreRoundToNearest() {
    torch::manual_seed(3);
    const auto w = torch::randn({24, 72});
    for (const quant::QuantSpec spec : {quant::QuantSpec{3, 32, false, 1.0}, quant::QuantSpec{4, 0, true, 1.0},
                                        quant::QuantSpec{2, 16, false, 0.9}}) {
      const auto a = methods::LearnableClipping(24, 72, spec, torch::kCPU, false).quantize(w);
      const auto b = quant::QuantizedLinear::round_to_nearest(w, spec);
      QVERIFY2(torch::equal(a.codes, b.codes) && torch::equal(a.scales, b.scales) && torch::equal(a.zeros, b.zeros),
               qPrintable(QString::fromStdString(spec.label())));
      QCOMPARE(a.spec.group_size, b.spec.group_size);
    }
  }

  // At initialisation both bounds are shrunk by σ(4), which for the min/max
  // grid is RTN with that clip ratio.
  void initialFactorsShrinkTheRangeBySigmoidOfFour() {
    torch::manual_seed(4);
    const auto w = torch::randn({16, 64});
    const methods::LearnableClipping clip(16, 64, kW3g32, torch::kCPU, true);
    QCOMPARE(clip.parameters().size(), size_t{2});
    auto spec = kW3g32;
    spec.clip_ratio = 1.0 / (1.0 + std::exp(-methods::LearnableClipping::kInitialFactor));
    const auto a = clip.quantize(w);
    const auto b = quant::QuantizedLinear::round_to_nearest(w, spec);
    QVERIFY(torch::allclose(a.scales, b.scales, 1e-6, 0));
    QVERIFY(torch::equal(a.zeros, b.zeros));
    QVERIFY(a.codes.ne(b.codes).sum().item<int64_t>() <= 2);
  }

  // What training sees is what gets committed: the fake-quantized matrix is
  // the record's dequantized weight exactly, for any factors; and the loss
  // reaches the factors through the straight-through rounding.
  void fakeQuantizationIsTheCommittedRecordAndHasGradients() {
    torch::manual_seed(5);
    const auto w = torch::randn({32, 80});
    for (bool sym : {false, true}) {
      methods::LearnableClipping clip(32, 80, {3, 32, sym, 1.0}, torch::kCPU, true);
      {
        torch::NoGradGuard g;
        for (auto& p : clip.parameters()) p.add_(torch::randn_like(p) * 2.0);
      }
      const auto fq = clip.fake_quantize(w);
      QVERIFY(torch::equal(fq.detach(), clip.quantize(w).dequantized_weight()));
      const auto x = torch::randn({64, 80});
      torch::matmul(x, (fq - w).t()).pow(2).sum().backward();
      for (const auto& p : clip.parameters()) {
        QVERIFY(p.grad().defined());
        QVERIFY(p.grad().abs().sum().item<double>() > 0);
      }
    }
  }

  // The FP trajectory: after the first block has been quantized, the context
  // gives the FP model's own output of block 1 — computed here independently by
  // running the FP blocks in turn — while targets() follows the quantized inputs.
  void fpTargetsFollowTheFpModel() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 6);
    model::Decoder fp(weights, torch::kCPU, torch::kFloat32), dec(weights, torch::kCPU, torch::kFloat32);
    torch::NoGradGuard g;
    const auto ids = test::random_calibration(dec.config().vocab_size, 4, 16, 1).ids;
    const auto h0 = fp.embed(ids);
    const auto h1 = fp.run_block(0, h0);
    const auto expected = fp.run_block(1, h1);
    test::RecordingFeedback fb;
    const auto quantized_in = h1 + 0.05 * torch::randn_like(h1);
    methods::BlockContext ctx(dec, 1, quantized_in, 2, fb, h1);
    ctx.begin_method({model::LinearRole::Q}, {{model::LinearRole::Q, kW3g32}});
    const auto q = quant::QuantizedLinear::round_to_nearest(ctx.weight(model::LinearRole::Q), kW3g32);
    ctx.commit(model::LinearRole::Q, q);
    QVERIFY(torch::allclose(ctx.fp_targets(), expected, 1e-5, 1e-5));
    QVERIFY(torch::allclose(ctx.targets(), fp.run_block(1, quantized_in), 1e-5, 1e-5));
    QVERIFY(ctx.has_fp_trajectory());
  }

  // In the pipeline LWC beats RTN on every block's output, its loss falls,
  // and each step's loss is reported as a curve point.
  void beatsRoundToNearestBlockByBlock() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 7);
    model::Decoder rtn(weights, torch::kCPU, torch::kFloat32), lwc(weights, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb0;
    test::RecordingFeedback fb;
    const auto r0 = test::run_method(rtn, "rtn", fb0);
    const auto r1 = test::run_method(lwc, "lwc", fb, {{"epochs", int64_t{6}}, {"lwc_lr", 5e-2}});
    for (size_t b = 0; b < r0.blocks.size(); ++b)
      QVERIFY2(r1.blocks[b].output_rel_mse < r0.blocks[b].output_rel_mse,
               qPrintable(QString("block %1: lwc %2, rtn %3")
                              .arg(b)
                              .arg(r1.blocks[b].output_rel_mse)
                              .arg(r0.blocks[b].output_rel_mse)));
    QCOMPARE(fb.curves.size(), size_t{2});
    for (const auto& [series, values] : fb.curves) {
      QCOMPARE(values.size(), size_t{6 * 8});
      // The same eight sequences in the first and the last epoch.
      const double first = std::accumulate(values.begin(), values.begin() + 8, 0.0);
      const double last = std::accumulate(values.end() - 8, values.end(), 0.0);
      QVERIFY2(last < first, series.c_str());
    }
    QVERIFY(std::any_of(fb.lines.begin(), fb.lines.end(),
                        [](const std::string& l) { return l.find("lwc epoch 6/6") != std::string::npos; }));
  }

  // Cancelling mid-training leaves every weight of the model as it was.
  void cancelDuringTrainingRestoresTheModel() {
    const auto weights = test::make_tiny_llama(test::tiny_config(), 8);
    model::Decoder dec(weights, torch::kCPU, torch::kFloat32);
    const auto before = test::block_tensors(dec);
    test::RecordingFeedback fb;
    int points = 0;
    fb.on_point = [&](const std::string&) {
      if (++points == 11) fb.cancel();
    };
    bool cancelled = false;
    try {
      test::run_method(dec, "lwc", fb, {{"epochs", int64_t{3}}});
    } catch (const Cancelled&) {
      cancelled = true;
    }
    QVERIFY(cancelled);
    const auto after = test::block_tensors(dec);
    for (size_t i = 0; i < before.size(); ++i) QVERIFY(torch::equal(before[i], after[i]));
  }
};

QS_REGISTER_TEST(TestLwc);
#include "test_lwc.moc"
