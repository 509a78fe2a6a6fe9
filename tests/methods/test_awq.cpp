#include <QTest>

#include "core/methods/awq.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/quant/uniform_quantizer.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

// One block whose normed activations have a few channels 25x larger than the
// rest, the pattern AWQ was designed for.
model::ModelWeights outlier_model(bool mha) {
  auto c = test::tiny_config();
  c.num_layers = 1;
  c.hidden_size = 128;
  c.num_heads = 4;
  c.head_dim = 32;
  c.num_kv_heads = mha ? 4 : 2;
  c.intermediate_size = 256;
  auto w = test::make_tiny_llama(c, 21);
  for (const char* norm : {"input_layernorm", "post_attention_layernorm"}) {
    auto& t = w.tensors.at(std::string("model.layers.0.") + norm + ".weight");
    t = t.clone();
    for (int64_t ch : {5, 37, 90}) t[ch] = t[ch] * 25.0;
  }
  return w;
}

text::CalibrationSet random_calibration(int64_t vocab, int64_t n, int64_t len, uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randint(0, vocab, {n, len}, torch::kLong), "random", seed};
}

pipeline::PipelineResult quantize(model::Decoder& dec, const std::string& method, int bits, test::RecordingFeedback& fb,
                                  bool auto_clip = true,
                                  const std::vector<std::pair<std::string, quant::ParamValue>>& params = {}) {
  auto choice = pipeline::QuantPlan::make_choice(method, {bits, 32, false, 1.0}, "test");
  if (method == "awq") choice.params.set("auto_clip", auto_clip, "test");
  for (const auto& [k, v] : params) choice.params.set(k, v, "test");
  pipeline::QuantPlan plan(choice);
  return pipeline::run_pipeline(dec, random_calibration(dec.config().vocab_size, 8, 48, 3), plan, {}, fb);
}

}  // namespace

class TestAwq : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void beatsRtnOnOutlierChannels() {
    const auto w = outlier_model(false);
    test::RecordingFeedback fb;
    model::Decoder rtn(w, torch::kCPU, torch::kFloat32);
    const double e_rtn = quantize(rtn, "rtn", 3, fb).blocks[0].output_rel_mse;
    model::Decoder awq(w, torch::kCPU, torch::kFloat32);
    const double e_awq = quantize(awq, "awq", 3, fb).blocks[0].output_rel_mse;
    model::Decoder scale_only(w, torch::kCPU, torch::kFloat32);
    const double e_scale = quantize(scale_only, "awq", 3, fb, false).blocks[0].output_rel_mse;
    QVERIFY2(e_scale < 0.8 * e_rtn, qPrintable(QString("AWQ (no clip) %1 vs RTN %2").arg(e_scale).arg(e_rtn)));
    QVERIFY2(e_awq <= e_scale * 1.05, qPrintable(QString("AWQ %1 vs scale only %2").arg(e_awq).arg(e_scale)));
  }

  // Scales folded into the norms and the previous linear leave the function
  // unchanged: at 8 bits the block is as close to FP as 8-bit RTN is (a wrong
  // fold would be off by O(1)), and the fold shows in the records and norms.
  void foldedScalesPreserveTheFunction() {
    for (bool mha : {false, true}) {
      const auto w = outlier_model(mha);
      test::RecordingFeedback fb;
      model::Decoder rtn(w, torch::kCPU, torch::kFloat32);
      const double e_rtn = quantize(rtn, "rtn", 8, fb).blocks[0].output_rel_mse;
      model::Decoder dec(w, torch::kCPU, torch::kFloat32);
      const auto r = quantize(dec, "awq", 8, fb);
      const double e_awq = r.blocks[0].output_rel_mse;
      QVERIFY2(e_awq < 1e-2 && e_awq < 1.5 * e_rtn, qPrintable(QString("AWQ %1 vs RTN %2").arg(e_awq).arg(e_rtn)));
      std::map<std::string, bool> scaled;
      for (const auto& l : r.layers) scaled[l.name] = l.record->input_scale.defined();
      QVERIFY(scaled.at("model.layers.0.self_attn.q_proj"));
      QVERIFY(scaled.at("model.layers.0.mlp.down_proj"));
      // v -> o is scaled only when the shapes match (no grouped-query attention).
      QCOMPARE(scaled.at("model.layers.0.self_attn.o_proj"), mha);
      const auto& norm = dec.norm_weight(0, model::NormRole::Input);
      QVERIFY(!torch::equal(norm, w.tensors.at("model.layers.0.input_layernorm.weight")));
    }
  }

  // Quantizer "lwc" (AWQ scales, then LWC): the scaled, clipped weights are
  // LWC's starting point, so training on the block output lowers the error
  // AWQ's own rounding leaves; the scales stay recorded, the loss is a curve,
  // and only this quantizer asks the pipeline for the FP trajectory.
  void lwcQuantizerImprovesOnAwqRounding() {
    const auto w = outlier_model(false);
    test::RecordingFeedback fb;
    model::Decoder awq(w, torch::kCPU, torch::kFloat32);
    const double e_awq = quantize(awq, "awq", 3, fb).blocks[0].output_rel_mse;
    model::Decoder both(w, torch::kCPU, torch::kFloat32);
    const auto r = quantize(both, "awq", 3, fb, true,
                            {{"quantizer", std::string("lwc")}, {"epochs", int64_t{5}}, {"lwc_lr", 5e-2}});
    const double e_both = r.blocks[0].output_rel_mse;
    QVERIFY2(e_both < 0.95 * e_awq, qPrintable(QString("AWQ+LWC %1 vs AWQ %2").arg(e_both).arg(e_awq)));
    for (const auto& l : r.layers)
      if (l.name.find("q_proj") != std::string::npos) QVERIFY(l.record->input_scale.defined());
    QCOMPARE(fb.curves.size(), size_t{1});
    QCOMPARE(fb.curves.begin()->first, std::string("layer 0 awq+lwc loss"));
    QCOMPARE(fb.curves.begin()->second.size(), size_t{5 * 8});

    methods::AwqMethod method;
    auto params = method.default_params();
    QVERIFY(!method.uses_fp_trajectory(params));
    params.set("quantizer", std::string("lwc"), "test");
    QVERIFY(method.uses_fp_trajectory(params));
  }

  void clipBoundsLowerGroupError() {
    torch::manual_seed(9);
    auto w = torch::randn({64, 128}) * 0.02;
    w.index_put_({torch::indexing::Slice(0, 64, 7), 3}, 0.5);  // planted weight outliers
    auto x = torch::randn({600, 128});
    const quant::QuantSpec spec{3, 32, false, 1.0};
    methods::AwqClipOptions o;
    auto bounds = methods::awq_clip_bounds(w, x, spec, o);
    QCOMPARE(bounds.sizes().vec(), (std::vector<int64_t>{64, 4}));
    auto org_max = std::get<0>(w.abs().reshape({64, 4, 32}).max(-1));
    QVERIFY(torch::all(bounds <= org_max + 1e-7).item<bool>());
    QVERIFY(torch::any(bounds < org_max * 0.99).item<bool>());
    auto clipped =
        torch::max(torch::min(w.reshape({64, 4, 32}), bounds.unsqueeze(-1)), -bounds.unsqueeze(-1)).reshape({64, 128});
    auto err = [&](const torch::Tensor& wq) { return (torch::matmul(x, (wq - w).t())).pow(2).mean().item<double>(); };
    const double e_clip = err(quant::fake_quantize(clipped, spec));
    const double e_plain = err(quant::fake_quantize(w, spec));
    QVERIFY2(e_clip < e_plain, qPrintable(QString("clip %1 vs plain %2").arg(e_clip).arg(e_plain)));
  }
};

QS_REGISTER_TEST(TestAwq);
#include "test_awq.moc"
