#include <QComboBox>
#include <QDir>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <filesystem>
#include <memory>

#include "app/gui/checkpoint_export_dialog.h"
#include "core/checkpoint/model_loader.h"
#include "core/checkpoint/provenance.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/quant_plan.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

constexpr const char* kKeptFp = "model.layers.1.mlp.down_proj";

// The tiny model quantized in code: every linear under `method`, except
// kKeptFp when `keep_one` says so.
struct QuantizedTiny {
  std::shared_ptr<model::Decoder> decoder;
  pipeline::PipelineResult result;
};

QuantizedTiny quantize_tiny(const std::string& method, int bits, bool keep_one) {
  const auto fp = test::make_tiny_llama(test::tiny_config(), 2);
  auto decoder = std::make_shared<model::Decoder>(fp, torch::kCPU, torch::kFloat32);
  pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice(method, {bits, 32, false, 1.0}, "test"));
  if (keep_one) plan.add_rule({kKeptFp, std::string(pipeline::kKeepFp), {}, {}, {}, {}, {}, {}, {}});
  test::RecordingFeedback fb;
  auto result = pipeline::run_pipeline(*decoder, test::random_calibration(101, 4, 16, 1), plan, {}, fb);
  return {std::move(decoder), std::move(result)};
}

bool is_empty_or_missing(const QString& dir) {
  return !QDir(dir).exists() || QDir(dir).isEmpty(QDir::AllEntries | QDir::NoDotAndDotDot);
}

}  // namespace

class TestExportDialog : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    run_ = quantize_tiny("gptq", 4, true);
  }

  // A finished run's model as compressed-tensors, then that export reopened as
  // weights (the decoder built on the worker) and written again as AWQ: the
  // codes survive both bit for bit, the linear kept in FP stays so, and the
  // run's provenance travels from the first export to the second.
  void exportsARunAndReExportsItsCheckpoint() {
    const QString ct_dir = dir_.filePath("compressed-tensors");
    app::ExportSource from_run;
    from_run.decoder = run_.decoder;
    from_run.provenance.source_model = dir_.filePath("fp-model").toStdString();
    from_run.provenance.linears["model.layers.0.mlp.up_proj"] = {"gptq", {}, 1e-4, 1e-3, 0.5};
    app::CheckpointExportDialog dialog(from_run);
    dialog.set_format("compressed-tensors");
    dialog.set_destination(ct_dir);
    QSignalSpy exported(&dialog, &app::CheckpointExportDialog::exported);
    dialog.start_export();
    QVERIFY(dialog.busy());
    QVERIFY(!dialog.findChild<QPushButton*>("exportButton")->isEnabled());
    QVERIFY2(exported.wait(60000), qPrintable(dialog.status_text()));
    QCOMPARE(exported.at(0).at(0).toString(), ct_dir);
    QVERIFY2(dialog.status_text().contains("13 quantized linears (1 kept in FP)"), qPrintable(dialog.status_text()));
    QVERIFY(!dialog.busy());
    QVERIFY(dialog.findChild<QPushButton*>("exportButton")->isEnabled());
    const auto back = std::make_shared<const model::ModelWeights>(checkpoint::load_model(ct_dir.toStdString()));
    expect_codes_of(run_, *back);

    const QString awq_dir = dir_.filePath("awq");
    app::ExportSource from_weights;
    from_weights.weights = back;
    app::CheckpointExportDialog again(from_weights);
    again.set_format("awq");
    again.set_destination(awq_dir);
    QSignalSpy exported_again(&again, &app::CheckpointExportDialog::exported);
    again.start_export();
    QVERIFY2(exported_again.wait(60000), qPrintable(again.status_text()));
    QVERIFY2(again.status_text().contains("13 quantized linears (1 kept in FP)"), qPrintable(again.status_text()));
    expect_codes_of(run_, checkpoint::load_model(awq_dir.toStdString()));
    const auto provenance = checkpoint::read_provenance(awq_dir.toStdString());
    QCOMPARE(provenance.source_model, fs::path(dir_.filePath("fp-model").toStdString()));
    QCOMPARE(provenance.linears.at("model.layers.0.mlp.up_proj").method, std::string("gptq"));
  }

  // A model the format cannot hold is refused with the layer or limit named
  // and nothing written; the dialog stays usable for a format that can.
  void refusesWhatTheFormatCannotHold() {
    app::ExportSource with_fp;
    with_fp.decoder = run_.decoder;
    app::CheckpointExportDialog refused(with_fp);
    const QString gptq_fp_dir = dir_.filePath("gptq-kept-fp");
    refused.set_format("gptq");
    refused.set_destination(gptq_fp_dir);
    QSignalSpy refusal(&refused, &app::CheckpointExportDialog::failed);
    refused.start_export();
    QVERIFY(refusal.wait(60000));
    QVERIFY2(refusal.at(0).at(0).toString().contains(kKeptFp), qPrintable(refusal.at(0).at(0).toString()));
    QVERIFY(is_empty_or_missing(gptq_fp_dir));

    const auto w3 = quantize_tiny("rtn", 3, false);
    app::ExportSource source;
    source.decoder = w3.decoder;
    app::CheckpointExportDialog dialog(source);
    const QString dir = dir_.filePath("w3");
    dialog.set_format("awq");
    dialog.set_destination(dir);
    QSignalSpy failed(&dialog, &app::CheckpointExportDialog::failed);
    QSignalSpy exported(&dialog, &app::CheckpointExportDialog::exported);
    dialog.start_export();
    QVERIFY(failed.wait(60000));
    const QString message = failed.at(0).at(0).toString();
    QVERIFY2(message.contains("4-bit, not 3"), qPrintable(message));
    QVERIFY(dialog.status_text().contains("4-bit, not 3"));
    QVERIFY(is_empty_or_missing(dir));
    QVERIFY(!dialog.busy());

    dialog.set_format("gptq");
    dialog.start_export();
    QVERIFY2(exported.wait(60000), qPrintable(dialog.status_text()));
    QCOMPARE(failed.size(), 1);
    QVERIFY2(dialog.status_text().contains("14 quantized linears (0 kept in FP)"), qPrintable(dialog.status_text()));
    expect_codes_of(w3, checkpoint::load_model(dir.toStdString()));
  }

  // Before writing, the dialog warns that a non-empty destination gets files
  // replaced; GGUF stores its own types, so the dtype choice does not apply.
  void warnsAboutANonEmptyDestination() {
    app::ExportSource source;
    source.decoder = run_.decoder;
    app::CheckpointExportDialog dialog(source);
    const QString dest = dir_.filePath("occupied");
    QVERIFY(QDir().mkpath(dest));
    dialog.set_destination(dest);
    QVERIFY(!plan_text(dialog).contains("not empty"));
    QFile stray(QDir(dest).filePath("notes.txt"));
    QVERIFY(stray.open(QIODevice::WriteOnly));
    stray.close();
    dialog.set_destination(dir_.filePath("elsewhere"));
    dialog.set_destination(dest);
    QVERIFY(plan_text(dialog).contains("not empty"));

    const auto combos = dialog.findChildren<QComboBox*>();
    QCOMPARE(combos.size(), 2);
    QVERIFY(combos[1]->isEnabled());
    dialog.set_format("gguf");
    QVERIFY(!combos[1]->isEnabled());
  }

  // Closing the dialog mid-export waits for the worker rather than leaving it
  // writing into a destroyed dialog.
  void destructionWaitsForTheExport() {
    const QString dest = dir_.filePath("closed-early");
    {
      app::ExportSource source;
      source.decoder = run_.decoder;
      app::CheckpointExportDialog dialog(source);
      dialog.set_format("compressed-tensors");
      dialog.set_destination(dest);
      dialog.start_export();
      QVERIFY(dialog.busy());
    }
    QVERIFY(QFile::exists(QDir(dest).filePath("config.json")));
  }

 private:
  static void expect_codes_of(const QuantizedTiny& run, const model::ModelWeights& back) {
    size_t records = 0;
    for (const auto& l : run.result.layers) {
      if (!l.record) {
        QVERIFY2(!back.quantized.contains(l.name), l.name.c_str());
        continue;
      }
      ++records;
      QVERIFY2(back.quantized.contains(l.name), l.name.c_str());
      QVERIFY2(torch::equal(back.quantized.at(l.name)->unpacked_codes(), l.record->unpacked_codes()), l.name.c_str());
    }
    QCOMPARE(back.quantized.size(), records);
  }

  // The label that says what will be written: the one mentioning model files.
  static QString plan_text(const app::CheckpointExportDialog& dialog) {
    for (const auto* label : dialog.findChildren<QLabel*>())
      if (label->text().startsWith("Writes")) return label->text();
    return {};
  }

  QTemporaryDir dir_;
  QuantizedTiny run_;  // gptq W4g32, kKeptFp kept in FP
};

QS_REGISTER_TEST(TestExportDialog);
#include "test_export_dialog.moc"
