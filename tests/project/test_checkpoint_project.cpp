#include <QTemporaryDir>
#include <QTest>
#include <nlohmann/json.hpp>

#include "core/checkpoint/quantscope_checkpoint.h"
#include "core/error.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/project/checkpoint_project.h"
#include "core/project/project_model.h"
#include "core/project/project_refinement.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/error_of.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

// `fp` with a tokenizer under dir/fp, and AWQ W4g32 (which folds scales into
// the norms) of it on every linear but model.layers.1.mlp.up_proj, saved as a
// QuantScope checkpoint under dir/ckpt.
void write_awq_checkpoint(const model::ModelWeights& fp, const fs::path& dir, const std::string& run_json) {
  test::write_hf_checkpoint(fp, dir / "fp");
  test::write_byte_tokenizer(dir / "fp");
  model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
  pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("awq", {4, 32, false, 1.0}, "test"));
  plan.add_rule({"model.layers.1.mlp.up_proj", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
  test::RecordingFeedback fb;
  const auto result = pipeline::run_pipeline(dec, test::random_calibration(101, 4, 16, 3), plan, {}, fb);
  checkpoint::Provenance info;
  info.source_model = dir / "fp";
  for (const auto& l : result.layers)
    if (l.record)
      info.linears[l.name] = {l.choice.method, l.choice.params.values(), l.weight_mse, l.output_rel_mse, 1.0};
  info.run_json = run_json;
  checkpoint::save_quantscope_checkpoint(dec, info, dir / "ckpt");
}

}  // namespace

class TestCheckpointProject : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // The project rebuilds on the FP model the model the checkpoint holds.
  void aCheckpointBecomesAProjectOverItsFpModel() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const auto fp = test::make_tiny_llama(test::tiny_config(), 5);
    write_awq_checkpoint(fp, dir, R"({"method": "awq", "bits": 4, "group": 32, "symmetric": false})");
    const auto ckpt = checkpoint::load_quantscope_checkpoint(dir / "ckpt");
    const auto info = checkpoint::read_quantscope_provenance(dir / "ckpt");

    const auto p = project::project_of_checkpoint(ckpt, info, fp, (dir / "fp").string());
    QCOMPARE(p.layers.size(), size_t{14});
    QCOMPARE(p.layers[12].name, std::string("model.layers.1.mlp.up_proj"));
    QCOMPARE(p.layers[12].method, std::string("fp16"));
    QVERIFY(!p.layers[12].record);
    QCOMPARE(p.layers[0].method, std::string("awq"));
    QVERIFY(p.layers[0].has_metrics);
    QCOMPARE(p.layers[0].weight_mse, info.linears.at(p.layers[0].name).weight_mse);
    QCOMPARE(p.layers[0].spec.group_size, int64_t{32});
    QVERIFY(!p.modified_tensors.empty());  // AWQ folded scales into the norms
    const auto plan = nlohmann::json::parse(p.settings.plan_json);
    QCOMPARE(plan["default"]["method"].get<std::string>(), std::string("awq"));
    QVERIFY(!plan["default"].contains("then"));
    project::check_refinable(p);

    model::Decoder from_checkpoint(ckpt, torch::kCPU, torch::kFloat32);
    model::Decoder from_project(project::with_project_layers(fp, p, "ckpt"), torch::kCPU, torch::kFloat32);
    const auto ids = torch::randint(0, 101, {2, 12}, torch::kLong);
    QVERIFY(torch::equal(from_project.forward(ids), from_checkpoint.forward(ids)));
  }

  void aRefinedCheckpointIsNotRefinedAgain() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const auto fp = test::make_tiny_llama(test::tiny_config(), 5);
    write_awq_checkpoint(fp, dir, R"({"method": "awq", "refinements": [{"method": "rilq", "params": {"rank": 8}}]})");
    const auto p =
        project::project_of_checkpoint(checkpoint::load_quantscope_checkpoint(dir / "ckpt"),
                                       checkpoint::read_quantscope_provenance(dir / "ckpt"), fp, (dir / "fp").string());
    const QString e = test::error_of<ArgumentError>([&] { project::check_refinable(p); });
    QVERIFY2(e.contains("refined by rilq already"), qPrintable(e));
  }

  void anFpModelOfAnotherShapeIsNamed() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const auto fp = test::make_tiny_llama(test::tiny_config(), 5);
    write_awq_checkpoint(fp, dir, "{}");
    auto other = test::tiny_config();
    other.hidden_size = 32;
    const QString e = test::error_of<ConfigError>([&] {
      project::project_of_checkpoint(checkpoint::load_quantscope_checkpoint(dir / "ckpt"),
                                     checkpoint::read_quantscope_provenance(dir / "ckpt"),
                                     test::make_tiny_llama(other, 5), (dir / "fp").string());
    });
    QVERIFY2(e.contains("hidden_size"), qPrintable(e));
  }
};

QS_REGISTER_TEST(TestCheckpointProject);
#include "test_checkpoint_project.moc"
