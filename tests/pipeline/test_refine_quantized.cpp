#include <QTemporaryDir>
#include <QTest>

#include "core/checkpoint/quantscope_checkpoint.h"
#include "core/error.h"
#include "core/methods/method_registry.h"
#include "core/model/decoder.h"
#include "core/model/quantized_linear_op.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/refinement_run.h"
#include "tests/methods/method_runs.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

quant::MethodParams fast_rilq() {
  auto p = methods::refinement_or_throw("rilq", "test").default_params();
  for (const auto& [k, v] : test::with(test::kFastRilq, {{"max_steps", int64_t{40}}})) p.set(k, v, "test");
  return p;
}

text::CalibrationSet calibration() { return test::random_calibration(101, 10, 24, 11); }

// `method` on every linear at W2g32, except model.layers.1.mlp.up_proj kept
// in FP; with `then`, RILQ over the result.
pipeline::QuantPlan plan_of(const std::string& method, bool then) {
  auto c = pipeline::QuantPlan::make_choice(method, {2, 32, false, 1.0}, "test");
  if (then) {
    c.then = "rilq";
    c.then_params = fast_rilq();
  }
  pipeline::QuantPlan plan(c);
  plan.add_rule({"model.layers.1.mlp.up_proj", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
  return plan;
}

// The model quantized by `method` alone, saved as a QuantScope checkpoint and read back.
std::unique_ptr<model::Decoder> quantized_checkpoint(const model::ModelWeights& fp, const std::string& method,
                                                     const QTemporaryDir& tmp) {
  model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
  test::RecordingFeedback fb;
  pipeline::run_pipeline(dec, calibration(), plan_of(method, false), {}, fb);
  const auto dir = std::filesystem::path(tmp.path().toStdString()) / method;
  checkpoint::save_quantscope_checkpoint(dec, {}, dir);
  return std::make_unique<model::Decoder>(checkpoint::load_quantscope_checkpoint(dir), torch::kCPU, torch::kFloat32);
}

}  // namespace

class TestRefineQuantized : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void refinesACheckpointAsThePipelineWould_data() {
    QTest::addColumn<QString>("method");
    QTest::newRow("rtn") << "rtn";
    QTest::newRow("awq (norms folded)") << "awq";
  }
  // RILQ over a checkpoint quantized before, read back from disk, trains what
  // one pipeline run of method-then-RILQ trains: the same adapters on the same
  // linears (the FP one left alone) and the same held-out losses. With AWQ the
  // checkpoint's norms are not the FP model's, so this also shows the targets
  // come from the FP model.
  void refinesACheckpointAsThePipelineWould() {
    QFETCH(QString, method);
    const auto fp_weights = test::make_tiny_llama(test::tiny_config(), 31);
    model::Decoder reference(fp_weights, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    const auto expected = pipeline::run_pipeline(reference, calibration(), plan_of(method.toStdString(), true), {}, fb);

    QTemporaryDir tmp;
    auto quantized = quantized_checkpoint(fp_weights, method.toStdString(), tmp);
    model::Decoder fp(fp_weights, torch::kCPU, torch::kFloat32);
    const auto run = pipeline::refine_quantized_model(*quantized, fp, calibration(),
                                                      methods::refinement_or_throw("rilq", "test"), fast_rilq(), 8, fb);
    QCOMPARE(run.result.method, std::string("rilq"));
    QCOMPARE(run.result.linears, int64_t{13});
    QCOMPARE(run.committed.size(), size_t{13});
    const auto& want = expected.refinements.at(0).reported;
    for (const char* key : {"rilq initial validation loss", "rilq best validation loss"})
      QVERIFY2(std::abs(run.result.reported.at(key) - want.at(key)) <= 1e-5 * want.at(key), key);
    QCOMPARE(run.result.reported.at("rilq best step"), want.at("rilq best step"));
    QVERIFY(run.result.reported.at("rilq best validation loss") <
            run.result.reported.at("rilq initial validation loss"));
    for (const auto& l : expected.layers) {
      const auto it = run.committed.find({l.layer, l.role});
      if (!l.record) {
        QVERIFY2(it == run.committed.end(), l.name.c_str());
        continue;
      }
      QVERIFY2(it != run.committed.end(), l.name.c_str());
      QVERIFY2(torch::allclose(it->second->lora_b, l.record->lora_b, 1e-4, 1e-6), l.name.c_str());
      QVERIFY2(torch::allclose(it->second->lora_a, l.record->lora_a, 1e-4, 1e-6), l.name.c_str());
      const auto* op = dynamic_cast<const model::QuantizedLinearOp*>(quantized->linear(l.layer, l.role).get());
      QVERIFY2(op && op->record() == it->second, l.name.c_str());
    }
  }

  // An FP model has nothing to refine: the error says what RILQ runs over.
  void refusesAModelWithNothingQuantized() {
    const auto w = test::make_tiny_llama(test::tiny_config(), 32);
    model::Decoder plain(w, torch::kCPU, torch::kFloat32), fp(w, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    try {
      pipeline::refine_quantized_model(plain, fp, calibration(), methods::refinement_or_throw("rilq", "test"),
                                       fast_rilq(), 8, fb);
      QFAIL("no error");
    } catch (const ArgumentError& e) {
      QVERIFY2(QString(e.what()).contains("no quantized linears"), e.what());
    }
  }

  // An FP model of another shape is named by the config field that differs.
  void refusesAnFpModelOfAnotherShape() {
    QTemporaryDir tmp;
    auto quantized = quantized_checkpoint(test::make_tiny_llama(test::tiny_config(), 33), "rtn", tmp);
    auto c = test::tiny_config();
    c.num_layers = 3;
    model::Decoder fp(test::make_tiny_llama(c, 33), torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    try {
      pipeline::refine_quantized_model(*quantized, fp, calibration(), methods::refinement_or_throw("rilq", "test"),
                                       fast_rilq(), 8, fb);
      QFAIL("no error");
    } catch (const ConfigError& e) {
      QVERIFY2(QString(e.what()).contains("num_hidden_layers"), e.what());
    }
  }

  // Cancelling mid-training leaves the quantized model exactly as it was read.
  void cancelLeavesTheQuantizedModelAsItWas() {
    const auto fp_weights = test::make_tiny_llama(test::tiny_config(), 34);
    QTemporaryDir tmp;
    auto quantized = quantized_checkpoint(fp_weights, "rtn", tmp);
    const auto before = test::block_tensors(*quantized);
    const auto slots_before = pipeline::quantized_slots(*quantized);
    model::Decoder fp(fp_weights, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    fb.on_line = [&](const std::string& line) {
      if (line.rfind("rilq step 4:", 0) == 0) fb.cancel();
    };
    QVERIFY_THROWS_EXCEPTION(
        Cancelled, pipeline::refine_quantized_model(*quantized, fp, calibration(),
                                                    methods::refinement_or_throw("rilq", "test"), fast_rilq(), 8, fb));
    const auto after = test::block_tensors(*quantized);
    for (size_t i = 0; i < before.size(); ++i) QVERIFY(torch::equal(before[i], after[i]));
    QCOMPARE(pipeline::quantized_slots(*quantized).size(), slots_before.size());
    for (const auto& s : slots_before) {
      const auto* op = dynamic_cast<const model::QuantizedLinearOp*>(quantized->linear(s.layer, s.role).get());
      QVERIFY(op && !op->record()->lora_a.defined());
    }
  }
};

QS_REGISTER_TEST(TestRefineQuantized);
#include "test_refine_quantized.moc"
