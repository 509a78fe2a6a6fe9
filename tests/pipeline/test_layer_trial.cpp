#include <QTest>

#include "core/error.h"
#include "core/model/decoder.h"
#include "core/pipeline/layer_trial.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

class TestLayerTrial : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    weights_ = test::make_tiny_llama(test::three_block_config(), 5);
    calibration_ = test::random_calibration(101, 4, 16, 2);
  }

  // The trial of one linear reports what a full run that quantizes only that
  // linear reports for it: same inputs (the FP model's), same record.
  void matchesAFullRunThatQuantizesOnlyThatLinear() {
    const std::string name = "model.layers.1.mlp.down_proj";
    const auto choice = pipeline::QuantPlan::make_choice("gptq", {3, 32, false, 1.0}, "test");
    test::RecordingFeedback fb;
    const auto trial = pipeline::quantize_one_linear(weights_, name, choice, calibration_, {}, fb);

    model::Decoder dec(weights_, torch::kCPU, torch::kFloat32);
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("fp16", {3, 32, false, 1.0}, "test"));
    plan.add_rule({name, std::string("gptq"), 3, 32, false, {}, {}, {}, {}});
    pipeline::PipelineOptions po;
    po.analyses = true;
    const auto full = pipeline::run_pipeline(dec, calibration_, plan, po, fb);
    const auto& expected = *std::find_if(full.layers.begin(), full.layers.end(), [&](const auto& l) { return l.name == name; });
    QCOMPARE(trial.name, name);
    QVERIFY(trial.record);
    QVERIFY(torch::equal(trial.record->codes, expected.record->codes));
    QCOMPARE(trial.output_rel_mse, expected.output_rel_mse);
    QCOMPARE(trial.weight_mse, expected.weight_mse);
    QVERIFY(trial.analyses.count("sv_error") && trial.analyses.count("act_mean_abs"));
    QVERIFY(weights_.quantized.empty());  // the model is untouched
  }

  // GPTQ uses the inputs RTN ignores: on the same linear its output error is lower.
  void gptqBeatsRtnOnTheSameLinear() {
    const std::string name = "model.layers.2.self_attn.o_proj";
    test::RecordingFeedback fb;
    const auto rtn = pipeline::quantize_one_linear(
        weights_, name, pipeline::QuantPlan::make_choice("rtn", {3, 32, false, 1.0}, "test"), calibration_, {}, fb);
    const auto gptq = pipeline::quantize_one_linear(
        weights_, name, pipeline::QuantPlan::make_choice("gptq", {3, 32, false, 1.0}, "test"), calibration_, {}, fb);
    QVERIFY2(gptq.output_rel_mse < rtn.output_rel_mse,
             qPrintable(QString("gptq %1, rtn %2").arg(gptq.output_rel_mse).arg(rtn.output_rel_mse)));
  }

  void unknownLinearNamesTheModelAndTheLinear() {
    test::RecordingFeedback fb;
    const auto choice = pipeline::QuantPlan::make_choice("rtn", {4, 32, false, 1.0}, "test");
    for (const char* name : {"model.layers.7.mlp.up_proj", "model.layers.0.mlp.sideways_proj", "lm_head"}) {
      try {
        pipeline::quantize_one_linear(weights_, name, choice, calibration_, {}, fb);
        QFAIL("no error");
      } catch (const FormatError& e) {
        QVERIFY2(QString(e.what()).contains(name), e.what());
      }
    }
  }

 private:
  model::ModelWeights weights_;
  text::CalibrationSet calibration_;
};

QS_REGISTER_TEST(TestLayerTrial);
#include "test_layer_trial.moc"
