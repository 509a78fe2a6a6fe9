#include <QTest>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/methods/method_registry.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/project/project_model.h"
#include "core/project/project_refinement.h"
#include "core/quant/quantized_linear.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/error_of.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

using Records = std::map<std::string, std::shared_ptr<const quant::QuantizedLinear>>;

// RTN W3g32 on every linear but model.layers.1.mlp.up_proj, kept in FP.
project::Project rtn_project(const model::ModelWeights& fp) {
  model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
  pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("rtn", {3, 32, false, 1.0}, "test"));
  plan.add_rule({"model.layers.1.mlp.up_proj", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
  test::RecordingFeedback fb;
  const auto result = pipeline::run_pipeline(dec, test::random_calibration(101, 4, 16, 3), plan, {}, fb);
  project::Project p;
  p.model.path = "/models/tiny";
  p.layers = project::layer_entries(result);
  p.settings.plan_json = plan.to_json();
  return p;
}

// `record` with a rank-2 side branch, as a refinement leaves it.
std::shared_ptr<const quant::QuantizedLinear> with_adapter(const quant::QuantizedLinear& record) {
  auto r = std::make_shared<quant::QuantizedLinear>(record);
  r->lora_a = torch::randn({2, record.in_features});
  r->lora_b = torch::randn({record.out_features, 2});
  return r;
}

quant::MethodParams rilq_params() {
  auto p = methods::refinement_or_throw("rilq", "test").default_params();
  p.set("rank", int64_t{2}, "test");
  return p;
}

}  // namespace

class TestProjectRefinement : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void refinedRecordsReplaceTheRunsAndThePlanSaysSo() {
    const auto fp = test::make_tiny_llama(test::tiny_config(), 5);
    const auto base = rtn_project(fp);
    Records refined;
    for (const auto& e : base.layers)
      if (e.record) refined[e.name] = with_adapter(*e.record);
    QCOMPARE(refined.size(), size_t{13});

    const auto p = project::refined_project(base, refined, "rilq", rilq_params());
    QCOMPARE(p.layers.size(), base.layers.size());
    for (size_t i = 0; i < p.layers.size(); ++i) {
      const auto &before = base.layers[i], &after = p.layers[i];
      QCOMPARE(after.method, before.method);
      QCOMPARE(after.output_rel_mse, before.output_rel_mse);
      QCOMPARE(after.record.get(), before.record ? refined.at(before.name).get() : nullptr);
    }
    const auto plan = nlohmann::json::parse(p.settings.plan_json);
    QCOMPARE(plan["default"]["method"].get<std::string>(), std::string("rtn"));
    QCOMPARE(plan["default"]["then"]["method"].get<std::string>(), std::string("rilq"));
    QCOMPARE(plan["default"]["then"]["params"]["rank"].get<int64_t>(), int64_t{2});
    QVERIFY(plan["layers"].contains("model.layers.1.mlp.up_proj"));
    // The plan reads back: a run of it makes this model.
    const auto read = pipeline::QuantPlan::from_json(
        p.settings.plan_json, pipeline::QuantPlan::make_choice("rtn", {4, 128, false, 1.0}, "test"), "test");
    QCOMPARE(read.defaults().then, std::string("rilq"));
    QCOMPARE(std::get<int64_t>(read.defaults().then_params.values().at("rank")), int64_t{2});
  }

  void aProjectRecordsOneRefinement() {
    const auto fp = test::make_tiny_llama(test::tiny_config(), 5);
    auto base = rtn_project(fp);
    const auto once = project::refined_project(base, {}, "rilq", rilq_params());
    const QString again = test::error_of<ArgumentError>([&] { project::check_refinable(once); });
    QVERIFY2(again.contains("refined by rilq already"), qPrintable(again));
    // A refinement named by a layer rule counts too.
    auto plan = nlohmann::json::parse(base.settings.plan_json);
    plan["layers"]["model.layers.0.*"]["then"] = "rilq";
    base.settings.plan_json = plan.dump();
    QVERIFY(
        !test::error_of<ArgumentError>([&] { project::refined_project(base, {}, "rilq", rilq_params()); }).isEmpty());
  }

  void aRefinedLinearTheProjectDoesNotQuantizeIsRefused() {
    const auto fp = test::make_tiny_llama(test::tiny_config(), 5);
    const auto base = rtn_project(fp);
    const Records refined = {{"model.layers.1.mlp.up_proj", with_adapter(*base.layers[0].record)}};
    const QString e =
        test::error_of<FormatError>([&] { project::refined_project(base, refined, "rilq", rilq_params()); });
    QVERIFY2(e.contains("/layers/model.layers.1.mlp.up_proj"), qPrintable(e));
  }

  void projectLayersGoOnAModelInMemoryAndLeaveItAlone() {
    const auto fp = test::make_tiny_llama(test::tiny_config(), 5);
    auto p = rtn_project(fp);
    const auto w = project::with_project_layers(fp, p, "run.qsproj");
    QCOMPARE(w.quantized.size(), size_t{13});
    QVERIFY(fp.quantized.empty());
    QVERIFY(fp.has("model.layers.0.self_attn.q_proj.weight"));
    p.layers[0].name = "model.layers.7.self_attn.q_proj";
    const QString e = test::error_of<FormatError>([&] { project::with_project_layers(fp, p, "run.qsproj"); });
    QVERIFY2(e.contains("run.qsproj") && e.contains("/layers/model.layers.7.self_attn.q_proj"), qPrintable(e));
  }
};

QS_REGISTER_TEST(TestProjectRefinement);
#include "test_project_refinement.moc"
