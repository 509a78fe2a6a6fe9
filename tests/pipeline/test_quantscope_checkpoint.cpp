#include <QTemporaryDir>
#include <QTest>

#include <fstream>

#include "core/error.h"
#include "core/io/quantscope_checkpoint.h"
#include "core/model/decoder.h"
#include "core/model/model_loader.h"
#include "core/pipeline/pipeline.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

// A tiny model quantized with every optional record field in play: GPTQ
// act-order (g_idx), AWQ (input scales, changed norms), one FP linear, and
// q/k/v biases (Qwen2 layout).
std::unique_ptr<model::Decoder> make_checkpoint(const fs::path& dir, model::ModelWeights& fp) {
  auto c = test::tiny_config();
  c.architecture = "qwen2";
  c.attention_bias = true;
  fp = test::make_tiny_llama(c, 17);
  auto dec = std::make_unique<model::Decoder>(fp, torch::kCPU, torch::kFloat32);
  pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("awq", {4, 32, false, 1.0}, "test"));
  plan.add_rule({"model.layers.1.*", std::string("gptq"), 3, {}, {}, {}, {{"act_order", true}}, {}, {}});
  plan.add_rule({"model.layers.1.mlp.up_proj", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
  test::RecordingFeedback fb;
  const auto r = pipeline::run_pipeline(*dec, test::random_calibration(101, 4, 16, 3), plan, {}, fb);
  io::QuantscopeCheckpointInfo info;
  for (const auto& l : r.layers)
    if (l.record) info.linears[l.name] = {l.choice.method, l.choice.params.values(), l.weight_mse, l.output_rel_mse, l.seconds};
  info.run_json = R"({"note": "test"})";
  io::save_quantscope_checkpoint(*dec, info, dir);
  return dec;
}

void rewrite(const fs::path& p, const std::string& from, const std::string& to) {
  std::ifstream in(p);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = s.find(from);
  QVERIFY2(at != std::string::npos, from.c_str());
  s.replace(at, from.size(), to);
  std::ofstream(p, std::ios::trunc) << s;
}

}  // namespace

class TestQuantscopeCheckpoint : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void reloadReproducesLogitsExactly() {
    QTemporaryDir tmp;
    model::ModelWeights fp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "q";
    const auto dec = make_checkpoint(dir, fp);
    const auto loaded = model::load_model(dir);
    QCOMPARE(loaded.source_format, std::string("quantscope"));
    QCOMPARE(loaded.quantized.size(), size_t{13});
    QVERIFY(loaded.has("model.layers.1.mlp.up_proj.weight"));
    QCOMPARE(model::parameter_count(loaded), model::parameter_count(fp));
    QVERIFY(loaded.quantized.at("model.layers.1.self_attn.q_proj")->g_idx.defined());
    QVERIFY(loaded.quantized.at("model.layers.0.self_attn.q_proj")->input_scale.defined());
    QVERIFY(loaded.quantized.at("model.layers.0.self_attn.k_proj")->bias.defined());
    model::Decoder again(loaded, torch::kCPU, torch::kFloat32);
    auto ids = torch::randint(0, 101, {2, 10}, torch::kLong);
    QVERIFY(torch::equal(again.forward(ids), dec->forward(ids)));
  }

  void damagedCheckpointsNameTheProblem_data() {
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("from");
    QTest::addColumn<QString>("to");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("bits") << "quantscope.json" << "\"bits\": 4" << "\"bits\": 9" << "bits";
    QTest::newRow("in_features") << "quantscope.json" << "\"in_features\": 64" << "\"in_features\": 65" << "qweight";
    QTest::newRow("version") << "quantscope.json" << "\"format_version\": 1" << "\"format_version\": 7"
                             << "format_version";
    QTest::newRow("format") << "quantscope.json" << "\"quantscope\"" << "\"other\"" << "format";
    QTest::newRow("not json") << "quantscope.json" << "{" << "[" << "quantscope.json";
  }
  void damagedCheckpointsNameTheProblem() {
    QFETCH(QString, file);
    QFETCH(QString, from);
    QFETCH(QString, to);
    QFETCH(QString, mentions);
    QTemporaryDir tmp;
    model::ModelWeights fp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "q";
    make_checkpoint(dir, fp);
    rewrite(dir / file.toStdString(), from.toStdString(), to.toStdString());
    try {
      model::load_model(dir);
      QFAIL("no error");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains(mentions), e.what());
    }
  }

  void truncatedTensorsAreAnError() {
    QTemporaryDir tmp;
    model::ModelWeights fp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "q";
    make_checkpoint(dir, fp);
    fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") / 2);
    QVERIFY_THROWS_EXCEPTION(FormatError, model::load_model(dir));
  }
};

QS_REGISTER_TEST(TestQuantscopeCheckpoint);
#include "test_quantscope_checkpoint.moc"
