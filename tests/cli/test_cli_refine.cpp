#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/checkpoint/quantscope_checkpoint.h"
#if QS_WITH_HDF5
#include "core/project/project_file.h"
#include "core/project/project_model.h"
#endif
#include "core/quant/quantized_linear.h"
#include "tests/cli/cli_run.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

// RILQ that trains the tiny model in about a second.
const char* kFastRilq =
    R"({"method": "rilq", "params": {"rank": 8, "alpha": 8.0, "lr": 0.005, "grad_accum": 2, "eval_every": 2,
        "max_steps": 40}})";

}  // namespace

// `quantscope-cli refine` as a user runs it: the built binary on a tiny
// model quantized by `quantscope-cli quantize`, checked through what it wrote.
class TestCliRefine : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    fp_ = write_model("fp");
    QCOMPARE(quantize(fp_, path("rtn")).code, 0);
  }

  void refineAddsAdaptersAndKeepsTheMethods() {
    const auto r = refine({path("rtn"), "--then", kFastRilq, "--out", path("refined")});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    // The memory it will need is stated before it trains, for its rank-8 adapters.
    QVERIFY2(r.err.contains("memory plan:") && r.err.contains("adapters: weights, gradients") &&
                 r.err.indexOf("memory plan:") < r.err.indexOf("rilq step"),
             qPrintable(r.err));
    const auto summary = nlohmann::json::parse(r.out.trimmed().split('\n').last().toStdString());
    QCOMPARE(summary["method"].get<std::string>(), std::string("rilq"));
    QCOMPARE(summary["linears"].get<int64_t>(), int64_t{14});
    QVERIFY(summary["rilq best validation loss"].get<double>() < summary["rilq initial validation loss"].get<double>());

    const fs::path out = path("refined").toStdString();
    const auto weights = checkpoint::load_quantscope_checkpoint(out);
    QCOMPARE(weights.quantized.size(), size_t{14});
    for (const auto& [name, q] : weights.quantized) {
      QVERIFY2(q->lora_a.defined() && q->lora_a.size(0) == 8, name.c_str());
      QCOMPARE(q->spec.bits, 2);
    }
    const auto info = checkpoint::read_quantscope_provenance(out);
    QCOMPARE(info.source_model, fs::path(fp_.toStdString()));
    QCOMPARE(info.linears.at("model.layers.1.mlp.down_proj").method, std::string("rtn"));
    const auto run = nlohmann::json::parse(info.run_json);
    QCOMPARE(run["method"].get<std::string>(), std::string("rtn"));
    QCOMPARE(run["refinements"].size(), size_t{1});
    QCOMPARE(run["refinements"][0]["from"].get<std::string>(), path("rtn").toStdString());
  }

#if QS_WITH_HDF5
  // --project writes the refined model as a project, from a project or a
  // checkpoint; a project records one refinement.
  void refineWritesAProject() {
    QCOMPARE(cli(QStringList{"quantize", fp_, "--method", "rtn", "--bits", "2", "--group", "32", "--project",
                             path("rtn.qsproj")} +
                 calibration())
                 .code,
             0);
    for (const QString& from : {path("rtn.qsproj"), path("rtn")}) {
      const QString out = path(QFileInfo(from).completeBaseName() + "-refined.qsproj");
      const auto r = refine({from, "--then", kFastRilq, "--project", out});
      QVERIFY2(r.code == 0, qPrintable(r.err));
      const auto p = project::load_project(out.toStdString());
      QCOMPARE(fs::path(p.model.path), fs::absolute(fp_.toStdString()).lexically_normal());
      QCOMPARE(p.layers.size(), size_t{14});
      for (const auto& e : p.layers) {
        QCOMPARE(e.method, std::string("rtn"));
        QVERIFY2(e.record && e.record->lora_a.size(0) == 8, e.name.c_str());
      }
      QVERIFY(nlohmann::json::parse(p.settings.plan_json)["default"]["then"]["method"] == "rilq");
      QCOMPARE(project::project_weights(p, out.toStdString()).quantized.size(), size_t{14});
    }
    const auto again = refine({path("rtn-refined.qsproj"), "--then", "rilq", "--project", path("twice.qsproj")});
    QVERIFY(again.code != 0);
    QVERIFY2(again.err.contains("refined by rilq already"), qPrintable(again.err));
    QVERIFY(!QFile::exists(path("twice.qsproj")));
  }
#endif

  // A packed export keeps the FP model and the methods in its provenance
  // (`info` shows them), so it refines without --fp and the refined
  // checkpoint still names them.
  void refineFindsTheFpModelOfAnExport() {
    const auto exported = cli({"export", path("rtn"), "--format", "gptq", "--out", path("rtn-gptq")});
    QVERIFY2(exported.code == 0, qPrintable(exported.err));
    const auto info_run = cli({"info", path("rtn-gptq")});
    QVERIFY2(info_run.code == 0, qPrintable(info_run.err));
    const auto shown = nlohmann::json::parse(info_run.out.trimmed().toStdString());
    QCOMPARE(shown["quantized_from"].get<std::string>(), fp_.toStdString());
    QCOMPARE(shown["methods"]["rtn"].get<int64_t>(), int64_t{14});
    const auto r = refine({path("rtn-gptq"), "--then", kFastRilq, "--out", path("refined-gptq")});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const auto info = checkpoint::read_quantscope_provenance(path("refined-gptq").toStdString());
    QCOMPARE(info.source_model, fs::path(fp_.toStdString()));
    QCOMPARE(info.linears.size(), size_t{14});
    QCOMPARE(info.linears.at("model.layers.0.self_attn.q_proj").method, std::string("rtn"));
    QCOMPARE(nlohmann::json::parse(info.run_json)["refinements"][0]["from"].get<std::string>(),
             path("rtn-gptq").toStdString());
    const auto refined_info = cli({"info", path("refined-gptq")});
    QCOMPARE(nlohmann::json::parse(refined_info.out.trimmed().toStdString())["refinements"][0].get<std::string>(),
             std::string("rilq"));
  }

  void refineRefusesToWriteOverItsInput() {
    const auto r = refine({path("rtn"), "--then", "rilq", "--out", path("rtn")});
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("which this run reads"), qPrintable(r.err));
  }

  // quantize reads its model from the directory --out would write into: refused
  // before anything is read or written, the model left as it was.
  void quantizeRefusesToWriteOverItsModel() {
    const auto r = cli({"quantize", path("rtn"), "--method", "rtn", "--bits", "4", "--group", "32", "--calib",
                        path("calib.txt"), "--nsamples", "2", "--seqlen", "16", "--out", path("rtn")});
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("which this run reads"), qPrintable(r.err));
    QCOMPARE(cli({"info", path("rtn")}).code, 0);
  }

  void refineOfAnFpModelSaysNothingIsQuantized() {
    const auto r = refine({fp_, "--fp", fp_, "--then", kFastRilq, "--out", path("from-fp")});
    QVERIFY(r.code != 0);
    QVERIFY2(r.err.contains("no quantized linears"), qPrintable(r.err));
    QVERIFY(!QDir(path("from-fp")).exists("quantscope.json"));
  }

  void refineNamesTheMissingFpModel() {
    const QString moved = write_model("moved");
    QCOMPARE(quantize(moved, path("rtn-moved")).code, 0);
    QVERIFY(QDir(moved).removeRecursively());
    const auto r = refine({path("rtn-moved"), "--then", "rilq", "--out", path("refined-moved")});
    QVERIFY(r.code != 0);
    QVERIFY2(r.err.contains(moved) && r.err.contains("--fp MODEL"), qPrintable(r.err));
  }

  // An FP model replaced since quantizing would give wrong targets: refused,
  // unless the user names it.
  void refineRefusesAChangedFpModel() {
    const QString changing = write_model("changing");
    QCOMPARE(quantize(changing, path("rtn-changing")).code, 0);
    auto c = test::tiny_config();
    c.vocab_size = 260;
    test::write_hf_checkpoint(test::make_tiny_llama(c, 9), changing.toStdString());
    const auto info = cli({"info", path("rtn-changing")});
    const auto shown = nlohmann::json::parse(info.out.trimmed().toStdString());
    QVERIFY2(shown["quantized_from_problem"].get<std::string>().find("changed since") != std::string::npos,
             qPrintable(info.out));
    const auto r = refine({path("rtn-changing"), "--then", kFastRilq, "--out", path("refined-changing")});
    QVERIFY(r.code != 0);
    QVERIFY2(r.err.contains("changed since") && r.err.contains("--fp MODEL"), qPrintable(r.err));
    QVERIFY(!QDir(path("refined-changing")).exists("quantscope.json"));
    const auto named =
        refine({path("rtn-changing"), "--fp", changing, "--then", kFastRilq, "--out", path("refined-changing")});
    QVERIFY2(named.code == 0, qPrintable(named.err));
  }

  void refineNamesAnUnknownRefinement() {
    const auto r = refine({path("rtn"), "--then", R"({"method": "nosuch"})", "--out", path("unknown")});
    QVERIFY(r.code != 0);
    QVERIFY2(r.err.contains("--then") && r.err.contains("nosuch"), qPrintable(r.err));
    QCOMPARE(r.err.count("--then"), 1);
  }

 private:
  QString path(const QString& name) const { return tmp_.filePath(name); }

  // A tiny model with a byte-level tokenizer, and a text to calibrate on beside it.
  QString write_model(const QString& name) {
    const QString dir = path(name);
    QDir().mkpath(dir);
    auto c = test::tiny_config();
    c.vocab_size = 260;
    test::write_hf_checkpoint(test::make_tiny_llama(c, 4), dir.toStdString());
    test::write_byte_tokenizer(dir.toStdString());
    QFile text(path("calib.txt"));
    if (!text.exists() && text.open(QIODevice::WriteOnly))
      for (int i = 0; i < 60; ++i) text.write("The quick brown fox jumps over the lazy dog, line by line.\n");
    return dir;
  }

  static test::CliRun cli(const QStringList& args) { return test::run_cli(args); }

  QStringList calibration() const { return {"--calib", path("calib.txt"), "--nsamples", "10", "--seqlen", "24"}; }

  test::CliRun quantize(const QString& model, const QString& out) const {
    return cli(QStringList{"quantize", model, "--method", "rtn", "--bits", "2", "--group", "32", "--out", out} +
               calibration());
  }

  test::CliRun refine(const QStringList& args) const { return cli(QStringList{"refine"} + args + calibration()); }

  QTemporaryDir tmp_;
  QString fp_;
};

QS_REGISTER_TEST(TestCliRefine);
#include "test_cli_refine.moc"
