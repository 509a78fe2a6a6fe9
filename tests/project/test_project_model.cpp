#include <QDir>
#include <QTemporaryDir>
#include <QTest>
#include <fstream>

#include "core/checkpoint/model_loader.h"
#include "core/error.h"
#include "core/io/file_fingerprint.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/project/project_file.h"
#include "core/project/project_model.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/error_of.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

class TestProjectModel : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // AWQ changes norms and records input scales, GPTQ act-order adds g_idx,
  // two linears stay FP: the rebuilt model must compute the same logits.
  void projectRebuildsTheQuantizedModelExactly() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const auto fp = test::make_tiny_llama(test::tiny_config(), 5);
    test::write_hf_checkpoint(fp, dir / "model");
    model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("awq", {4, 32, false, 1.0}, "test"));
    plan.add_rule({"model.layers.1.*", std::string("gptq"), 3, {}, {}, {}, {{"act_order", true}}, {}, {}});
    plan.add_rule({"model.layers.1.mlp.up_proj", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
    // Kept in FP inside the gate/up group AWQ scales: its weight carries the scale.
    plan.add_rule({"model.layers.0.mlp.up_proj", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
    pipeline::PipelineOptions options;
    options.analyses = true;
    test::RecordingFeedback fb;
    const auto result = pipeline::run_pipeline(dec, test::random_calibration(101, 4, 16, 3), plan, options, fb);

    project::Project p;
    p.model = project::model_ref(fp, (dir / "model").string());
    p.layers = project::layer_entries(result);
    p.modified_tensors = project::modified_tensors(fp, dec);
    QCOMPARE(p.layers.size(), size_t{14});
    QVERIFY(!p.modified_tensors.empty());  // AWQ folded scales into the norms
    QVERIFY(p.modified_tensors.count("model.layers.0.mlp.up_proj.weight"));
    QVERIFY(p.layers[0].analyses.count("sv_scaled_error"));
    QVERIFY(p.layers[0].analyses.count("error_map"));
    QCOMPARE(p.layers[12].name, std::string("model.layers.1.mlp.up_proj"));
    QVERIFY(p.layers[12].analyses.empty());  // the FP linear
    project::save_project(p, dir / "p.qsproj");

    const auto loaded = project::load_project(dir / "p.qsproj");
    QCOMPARE(project::check_model(loaded.model).state, project::ModelState::Same);
    const auto w = project::project_weights(loaded, dir / "p.qsproj");
    QCOMPARE(w.quantized.size(), size_t{12});
    for (const auto& [name, q] : w.quantized) QVERIFY2(!w.has(name + ".weight"), name.c_str());
    QCOMPARE(checkpoint::parameter_count(w), checkpoint::parameter_count(fp));
    model::Decoder again(w, torch::kCPU, torch::kFloat32);
    const auto ids = torch::randint(0, 101, {2, 12}, torch::kLong);
    QVERIFY(torch::equal(again.forward(ids), dec.forward(ids)));
  }

  void changedOrMissingModelIsReported() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const auto fp = test::make_tiny_llama(test::tiny_config(), 6);
    test::write_hf_checkpoint(fp, dir / "model");
    auto ref = project::model_ref(fp, (dir / "model").string());
    QCOMPARE(project::check_model(ref).state, project::ModelState::Same);

    auto other = fp;
    other.tensors["model.norm.weight"] = other.tensors["model.norm.weight"] * 2;
    test::write_hf_checkpoint(other, dir / "model");
    const auto changed = project::check_model(ref);
    QCOMPARE(changed.state, project::ModelState::Changed);
    QVERIFY(changed.message.find((dir / "model").string()) != std::string::npos);

    // QDir, not std::filesystem::remove_all: the PyPI libtorch exports its own
    // copy of that symbol, which crashes when called from our binaries.
    QVERIFY(QDir(QString::fromStdString((dir / "model").string())).removeRecursively());
    QCOMPARE(project::check_model(ref).state, project::ModelState::Missing);
  }

  void projectThatDoesNotFitTheModelIsRefused() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const auto fp = test::make_tiny_llama(test::tiny_config(), 7);
    test::write_hf_checkpoint(fp, dir / "model");
    project::Project p;
    p.model = project::model_ref(fp, (dir / "model").string());
    project::LayerEntry e;
    e.name = "model.layers.9.mlp.up_proj";
    e.record = std::make_shared<quant::QuantizedLinear>(
        quant::QuantizedLinear::round_to_nearest(torch::randn({96, 64}), {4, 32, false, 1.0}));
    p.layers.push_back(e);
    const auto msg = test::error_of<FormatError>([&] { project::project_weights(p, dir / "p.qsproj"); });
    QVERIFY2(msg.contains("model.layers.9.mlp.up_proj") && msg.contains("p.qsproj"), qPrintable(msg));
  }

  void fingerprintSamplesLargeFiles() {
    QTemporaryDir tmp;
    const fs::path file = fs::path(tmp.path().toStdString()) / "big.bin";
    std::string bytes((size_t{80} << 20), 'a');
    std::ofstream(file, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const auto a = io::file_fingerprint(file);
    QVERIFY(a.rfind("qsfp1:", 0) == 0);
    QCOMPARE(io::file_fingerprint(file), a);
    // A change in the header region (first 4 MiB) is always seen.
    bytes[100] = 'b';
    std::ofstream(file, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    QVERIFY(io::file_fingerprint(file) != a);
  }
};

QS_REGISTER_TEST(TestProjectModel);
#include "test_project_model.moc"
