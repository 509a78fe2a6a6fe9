#include <QAction>
#include <QDir>
#include <QElapsedTimer>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QUndoStack>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "app/gui/checkpoint_export_dialog.h"
#include "app/gui/compare_controller.h"
#include "app/gui/kernel_bench_controller.h"
#include "app/gui/layer_config.h"
#include "app/gui/layer_preview.h"
#include "app/gui/main_window.h"
#include "app/gui/model_controller.h"
#include "app/gui/preferences_dialog.h"
#include "app/gui/presets.h"
#include "app/gui/run_controller.h"
#include "app/gui/session.h"
#include "tests/app/gui_fixtures.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"
#include "widgets/compare_view.h"
#include "widgets/error_heatmap.h"
#include "widgets/grid_histogram_view.h"
#include "widgets/issues_view.h"
#include "widgets/kernel_speed_view.h"
#include "widgets/layer_inspector.h"
#include "widgets/method_panel.h"
#include "widgets/model_tree_view.h"
#include "widgets/run_view.h"
#include "widgets/spectrum_plot.h"
#if QS_WITH_HDF5
#include "core/checkpoint/model_loader.h"
#include "core/checkpoint/packed_export.h"
#include "core/checkpoint/quantscope_checkpoint.h"
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/project/project_file.h"
#include "core/project/project_model.h"
#include "core/quant/quantized_linear.h"
#include "tests/pipeline/pipeline_fixtures.h"
#endif

using namespace qs;
namespace fs = std::filesystem;

namespace {

double gui_thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

}  // namespace

class TestMainWindow : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QCoreApplication::setOrganizationName("QuantScopeTest");
    QStandardPaths::setTestModeEnabled(true);  // autosaves go to a test location
    QVERIFY(dir_.isValid());
    test::write_hf_checkpoint(test::make_tiny_llama(test::tiny_config(), 2), dir_.path().toStdString());
  }

  void opensModelOffTheGuiThreadAndFillsTree() {
    app::MainWindow w;
    w.show();
    QSignalSpy loaded(w.models(), &app::ModelController::model_loaded);
    w.open_model(dir_.path());
    QVERIFY(w.models()->busy());
    QVERIFY(loaded.wait(20000));
    auto* tree = w.findChild<widgets::ModelTreeView*>();
    QVERIFY(tree);
    QCOMPARE(tree->visible_linear_count(), 14);
    QCOMPARE(w.models()->outline().blocks.size(), 2);
    QCOMPARE(w.models()->outline().blocks[0].linears[1].out_features, qint64(32));  // k_proj: 2 KV heads × 16
    QVERIFY(w.windowTitle().contains(QFileInfo(dir_.path()).fileName()));
    // The status bar shows the process's own memory beside the device.
    bool memory_shown = false;
    for (auto* label : w.statusBar()->findChildren<QLabel*>()) memory_shown |= label->text().startsWith("RAM ");
    QVERIFY(memory_shown);
  }

  // Ctrl+K on the tiny model: 4 distinct linear shapes × (4 bit widths × 2 batches
  // + the LUT kernel at 2, 3 and 4 bits, batch 1) = 44 timings.
  void benchmarksTheKernelsOfTheOpenModel() {
    app::MainWindow w;
    QVERIFY(open_and_wait(w, dir_.path()));
    QSignalSpy done(w.findChild<app::KernelBenchController*>(), &app::KernelBenchController::finished);
    w.start_kernel_bench();
    QVERIFY(done.wait(120000));
    QCOMPARE(w.kernel_view()->table_rows(), 44);
    QCOMPARE(w.kernel_view()->bars(), 44);
    QVERIFY(w.kernel_view()->headline().contains(torch::cuda::is_available() ? "copy bandwidth" : "No GPU"));
  }

  void filterNarrowsTree() {
    app::MainWindow w;
    QVERIFY(open_and_wait(w, dir_.path()));
    auto* tree = w.findChild<widgets::ModelTreeView*>();
    auto* filter = tree->findChild<QLineEdit*>();
    QTest::keyClicks(filter, "layers.1.mlp");
    QCOMPARE(tree->visible_linear_count(), 3);
    filter->clear();
    QCOMPARE(tree->visible_linear_count(), 14);
  }

  void badFileShowsErrorAndKeepsModel() {
    app::MainWindow w;
    w.show();
    QSignalSpy loaded(w.models(), &app::ModelController::model_loaded);
    QSignalSpy failed(w.models(), &app::ModelController::load_failed);
    w.open_model(dir_.path());
    QVERIFY(loaded.wait(20000));
    const QString bad = dir_.filePath("broken.gguf");
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("GGUF\x03\x00\x00\x00", 8);  // header cut short
    f.close();
    w.open_model(bad);
    QVERIFY(failed.wait(20000));
    QVERIFY(failed.at(0).at(1).toString().contains("broken.gguf"));
    auto* box = w.findChild<QMessageBox*>();
    QVERIFY(box);
    QVERIFY(box->text().contains("broken.gguf"));
    QCOMPARE(w.models()->outline().blocks.size(), 2);  // the open model is untouched
    QVERIFY(w.models()->model());
    QCOMPARE(w.issues()->count(), 1);  // and the Issues dock keeps the message
    QVERIFY(w.issues()->message(0).contains("broken.gguf"));
  }

  // An issue that names a linear takes the user there.
  void issuesThatNameALayerGoToIt() {
    app::MainWindow w;
    w.show();
    QVERIFY(open_and_wait(w, dir_.path()));
    w.report_issue("Run", "lwc: the loss is not finite in model.layers.1.mlp.down_proj at epoch 2, step 3");
    w.report_issue("Open", "tokenizer.json: field 'model.vocab' is missing", false);
    QCOMPARE(w.issues()->count(), 2);
    QCOMPARE(w.issues()->layer(0), QString("model.layers.1.mlp.down_proj"));
    QCOMPARE(w.issues()->layer(1), QString());
    // The same issue again does not pile up: it moves to the end.
    w.report_issue("Run", "lwc: the loss is not finite in model.layers.1.mlp.down_proj at epoch 2, step 3");
    QCOMPARE(w.issues()->count(), 2);
    QCOMPARE(w.issues()->layer(1), QString("model.layers.1.mlp.down_proj"));
    QSignalSpy ready(w.preview(), &app::LayerPreviewController::ready);
    Q_EMIT w.issues()->go_to_layer(w.issues()->layer(1));
    QVERIFY(ready.wait(20000));
    QCOMPARE(ready.at(0).at(0).toString(), QString("model.layers.1.mlp.down_proj"));
    QCOMPARE(w.tree()->selected_linears(), QStringList{"model.layers.1.mlp.down_proj"});
  }

  // A freshly opened model: selecting a linear previews it (RTN on the method
  // panel's grid) off the GUI thread; selecting it again is served from the cache.
  void previewsALayerOfAFreshlyOpenedModel() {
    app::MainWindow w;
    w.show();
    QVERIFY(open_and_wait(w, dir_.path()));
    auto s = w.method_panel()->settings();
    s.method = "rtn";
    s.bits = 3;
    s.group = 32;
    w.method_panel()->set_settings(s);
    QSignalSpy ready(w.preview(), &app::LayerPreviewController::ready);
    w.select_layer("model.layers.1.mlp.up_proj");
    QVERIFY(w.preview()->busy());
    QVERIFY(ready.wait(20000));
    auto* inspector = w.inspector();
    QCOMPARE(inspector->spectrum()->graph(0)->dataCount(), 64);  // min(96, 64) singular values
    QCOMPARE(inspector->heatmap()->cell_count(), 96 * 2);        // 96 rows × 2 groups of 32
    QCOMPARE(inspector->histogram()->grid_lines(), 8);           // the 3-bit grid's levels
    const auto w_up = w.models()->model()->at("model.layers.1.mlp.up_proj.weight");
    const double top = torch::linalg_svdvals(w_up.to(torch::kFloat64))[0].item<double>();
    QVERIFY(std::abs(inspector->spectrum()->graph(0)->data()->at(0)->value - top) < 1e-4 * top);
    w.select_layer("model.layers.0.self_attn.q_proj");
    QVERIFY(ready.wait(20000));
    w.select_layer("model.layers.1.mlp.up_proj");
    QCOMPARE(ready.count(), 3);  // at once, from the cache
    QVERIFY(!w.preview()->busy());
  }

  // A linear an opened checkpoint stores quantized is shown as stored, against
  // the FP model its provenance names; without one the inspector says so.
  void inspectsAStoredLayerAgainstItsFpModel() {
    const QString model_dir = write_model_with_tokenizer();
    const std::string named = dir_.filePath("stored-named").toStdString(),
                      unnamed = dir_.filePath("stored-unnamed").toStdString();
    std::map<std::string, double> weight_mse;
    {
      const auto fp = checkpoint::load_model(model_dir.toStdString());
      model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
      for (const auto& l : quantize_rtn(dec, 3).layers) weight_mse[l.name] = l.weight_mse;
      checkpoint::Provenance provenance;
      provenance.source_model = model_dir.toStdString();
      provenance.run_json = R"({"method": "rtn", "bits": 3, "group": 32, "eval": {"ppl": 12.5, "ppl_fp": 10.25},
                                "refinements": [{"method": "rilq", "eval": {"ppl": 11.75}}]})";
      checkpoint::save_quantscope_checkpoint(dec, provenance, named);
      checkpoint::save_quantscope_checkpoint(dec, {}, unnamed);
    }
    const QString layer = "model.layers.1.mlp.down_proj";
    app::MainWindow w;
    w.show();
    QVERIFY(open_and_wait(w, QString::fromStdString(named)));
    QCOMPARE(w.models()->outline().fp_model, model_dir);
    // The summary gives the last perplexity measured, the refinement's.
    QVERIFY(w.models()->outline().facts.contains({"Recorded run", "rtn W3g32, then rilq"}));
    QVERIFY(w.models()->outline().facts.contains({"Perplexity", "11.7500 (FP 10.2500)"}));
    QSignalSpy ready(w.preview(), &app::LayerPreviewController::ready);
    w.select_layer(layer);
    QVERIFY(ready.wait(20000));
    const auto li = ready.at(0).at(1).value<widgets::LayerInspection>();
    QVERIFY2(li.title.contains("as stored"), qPrintable(li.title));
    QCOMPARE(w.inspector()->heatmap()->cell_count(), 64 * 3);  // 64 rows × 3 groups of 32 (in 96)
    QString shown_mse;
    for (const auto& [key, value] : li.metrics)
      if (key == "Weight MSE") shown_mse = value;
    QCOMPARE(shown_mse, QString::number(weight_mse.at(layer.toStdString()), 'e', 3));

    QVERIFY(open_and_wait(w, QString::fromStdString(unnamed)));
    w.select_layer(layer);
    QVERIFY(!w.preview()->busy());
    bool said = false;
    for (auto* label : w.inspector()->findChildren<QLabel*>()) said |= label->text().contains("does not record");
    QVERIFY(said);
  }

  // The built-in presets fill the method dock; a saved preset comes back; a
  // broken one is reported by file and field and skipped.
  void presetsFillTheMethodPanel() {
    QDir(app::user_preset_dir()).removeRecursively();
    app::MainWindow w;
    const int builtin = w.method_panel()->preset_count();
    QVERIFY(builtin >= 6);
    int act_order = -1;
    for (int i = 0; i < w.presets().size(); ++i)
      if (w.presets()[i].name == "GPTQ W4g128 act-order") act_order = i;
    QVERIFY(act_order >= 0);
    auto s = w.method_panel()->settings();
    s.method = "lwc";
    s.params.insert("epochs", qlonglong{3});
    w.method_panel()->set_settings(s);
    w.apply_preset(act_order);
    s = w.method_panel()->settings();
    QCOMPARE(s.method, QString("gptq"));
    QCOMPARE(s.bits, 4);
    QCOMPARE(s.group, qint64{128});
    QCOMPARE(s.params, (QVariantMap{{"act_order", true}}));

    s.params.insert("damp_percent", 0.05);
    w.method_panel()->set_settings(s);
    app::save_user_preset({"My GPTQ", "damped", w.method_panel()->layer_setting(), {}, {}, {}, false});
    QFile bad(QDir(app::user_preset_dir()).filePath("broken.json"));
    QVERIFY(bad.open(QIODevice::WriteOnly));
    bad.write(R"({"name": "Broken", "method": "gptq", "params": {"act_orde": true}})");
    bad.close();
    w.reload_presets();
    QCOMPARE(w.method_panel()->preset_count(), builtin + 1);
    QCOMPARE(w.presets().back().setting.params.value("damp_percent").toDouble(), 0.05);
    QCOMPARE(w.issues()->count(), 1);
    QVERIFY(w.issues()->message(0).contains("broken.json"));
    QVERIFY(w.issues()->message(0).contains("act_orde"));
    QDir(app::user_preset_dir()).removeRecursively();
  }

  // A method without hyper-parameters says so instead of showing an empty box.
  void aMethodWithoutParametersSaysSo() {
    app::MainWindow w;
    auto s = w.method_panel()->settings();
    s.method = "rtn";
    w.method_panel()->set_settings(s);
    const auto* none = w.method_panel()->findChild<QLabel*>("noParams");
    QVERIFY(none && none->text().startsWith("None"));
    s.method = "gptq";
    w.method_panel()->set_settings(s);
    QVERIFY(!w.method_panel()->findChild<QLabel*>("noParams"));
    QVERIFY(w.method_panel()->findChild<QWidget*>("param_act_order"));
  }

  // "Then" in the method dock: a preset composes RILQ, its parameters get
  // editors of their own, a changed one is what settings() reports, another
  // preset clears it, and a saved preset keeps it.
  void theDockComposesARefinement() {
    QDir(app::user_preset_dir()).removeRecursively();
    app::MainWindow w;
    int rilq = -1, act_order = -1;
    for (int i = 0; i < w.presets().size(); ++i) {
      if (w.presets()[i].then == "rilq") rilq = i;
      if (w.presets()[i].name == "GPTQ W4g128 act-order") act_order = i;
    }
    QVERIFY(rilq >= 0 && act_order >= 0);
    w.apply_preset(rilq);
    auto s = w.method_panel()->settings();
    QCOMPARE(s.method, QString("awq"));
    QCOMPARE(s.then, QString("rilq"));
    QVERIFY(s.then_params.isEmpty());
    auto* rank = w.method_panel()->findChild<QSpinBox*>("then_param_rank");
    QVERIFY(rank);
    QCOMPARE(rank->value(), 64);
    rank->setValue(16);
    s = w.method_panel()->settings();
    QCOMPARE(s.then_params, (QVariantMap{{"rank", qlonglong{16}}}));
    app::save_user_preset({"Mine", {}, w.method_panel()->layer_setting(), s.then, s.then_params, {}, false});
    w.apply_preset(act_order);
    QVERIFY(w.method_panel()->settings().then.isEmpty());
    QVERIFY(!w.method_panel()->findChild<QSpinBox*>("then_param_rank"));
    w.reload_presets();
    QCOMPARE(w.presets().back().then, QString("rilq"));
    QCOMPARE(w.presets().back().then_params.value("rank").toLongLong(), qlonglong{16});
    w.apply_preset(static_cast<int>(w.presets().size()) - 1);
    QCOMPARE(w.method_panel()->settings().then_params, (QVariantMap{{"rank", qlonglong{16}}}));
    QDir(app::user_preset_dir()).removeRecursively();
  }

  void preferencesAreKeptAndApplied() {
    const int threads = torch::get_num_threads();
    app::Preferences{0, 1}.save();
    const auto p = app::Preferences::load();
    QCOMPARE(p.autosave_minutes, 0);
    QCOMPARE(p.torch_threads, 1);
    app::MainWindow w;  // applies them at start
    QCOMPARE(torch::get_num_threads(), 1);
    app::Preferences{}.save();
    torch::set_num_threads(threads);
  }

  // Compare runs the ticked methods on the inspected linear alone, off the GUI
  // thread: one table row and one spectrum per method.
  void comparesMethodsOnTheSelectedLayer() {
    const QString model_dir = write_model_with_tokenizer();
    app::MainWindow w;
    QVERIFY(open_and_wait(w, model_dir));
    w.method_panel()->set_settings(settings("rtn", model_dir));
    w.select_layer("model.layers.1.mlp.up_proj");
    w.show_inspector_tab("compare");
    w.compare_view()->set_methods({"rtn", "gptq", "awq"}, {"rtn", "gptq"});
    QSignalSpy done(w.compare(), &app::CompareController::finished);
    QTest::mouseClick(w.compare_view()->findChild<QPushButton*>("compareButton"), Qt::LeftButton);
    QVERIFY(w.compare()->busy());
    QVERIFY(done.wait(60000));
    QCOMPARE(done.at(0).at(0).toString(), QString("model.layers.1.mlp.up_proj"));
    const auto entries = done.at(0).at(1).value<QVector<widgets::CompareEntry>>();
    QCOMPARE(entries.size(), 2);
    QCOMPARE(entries[0].label, QString("rtn W3g32"));
    QCOMPARE(entries[0].sv_scaled_error.size(), 64);                 // min(96, 64), weighted by the layer's inputs
    QVERIFY(entries[1].output_rel_mse < entries[0].output_rel_mse);  // GPTQ uses the inputs
    QCOMPARE(w.compare_view()->table_rows(), 2);
    QCOMPARE(w.compare_view()->spectrum()->graphCount(), 4);  // each spectrum with its energy
    QVERIFY(w.models()->model()->quantized.empty());
  }

  // On a quantized checkpoint, methods are compared on the FP model it
  // records, not on its dequantized weights.
  void comparesOnTheFpModelOfAQuantizedCheckpoint() {
    const QString model_dir = write_model_with_tokenizer();
    const std::string named = dir_.filePath("compare-named").toStdString(),
                      unnamed = dir_.filePath("compare-unnamed").toStdString();
    const std::string layer = "model.layers.1.mlp.up_proj";
    double rtn_mse = 0;
    {
      const auto fp = checkpoint::load_model(model_dir.toStdString());
      const auto w_fp = fp.at(layer + ".weight").to(torch::kFloat32);
      const auto rtn = quant::QuantizedLinear::round_to_nearest(w_fp, {3, 32, false, 1.0}).dequantized_weight();
      rtn_mse = (w_fp - rtn).square().mean().item<double>();
      model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
      quantize_rtn(dec, 2);
      checkpoint::Provenance provenance;
      provenance.source_model = model_dir.toStdString();
      checkpoint::save_quantscope_checkpoint(dec, provenance, named);
      checkpoint::save_quantscope_checkpoint(dec, {}, unnamed);
    }
    app::MainWindow w;
    QSignalSpy done(w.compare(), &app::CompareController::finished);
    for (const auto& ckpt : {unnamed, named}) {
      QVERIFY(open_and_wait(w, QString::fromStdString(ckpt)));
      w.method_panel()->set_settings(settings("rtn", model_dir));
      w.select_layer(QString::fromStdString(layer));
      w.show_inspector_tab("compare");
      w.compare_view()->set_methods({"rtn"}, {"rtn"});
      QTest::mouseClick(w.compare_view()->findChild<QPushButton*>("compareButton"), Qt::LeftButton);
      if (ckpt == named) break;
      QVERIFY(!w.compare()->busy());
      bool said = false;
      for (auto* label : w.compare_view()->findChildren<QLabel*>())
        said |= label->text().contains("records no FP model");
      QVERIFY(said);
    }
    QVERIFY(done.wait(60000));
    const auto entries = done.at(0).at(1).value<QVector<widgets::CompareEntry>>();
    QCOMPARE(entries[0].label, QString("rtn W3g32"));
    QVERIFY2(std::abs(entries[0].weight_mse - rtn_mse) <= 1e-6 * rtn_mse,
             qPrintable(QString("%1 against %2").arg(entries[0].weight_mse).arg(rtn_mse)));
  }

  // Edit: the layers selected in the tree get the method panel's choice, shown
  // in the tree; undo and redo walk it back and forth; the run then uses it.
  void perLayerChoicesUndoRedoAndReachTheRun() {
    const QString model_dir = write_model_with_tokenizer();
    app::MainWindow w;
    QVERIFY(open_and_wait(w, model_dir));
    const QStringList kept = {"model.layers.0.mlp.down_proj", "model.layers.1.self_attn.q_proj"};
    w.tree()->select_linears(kept);
    QCOMPARE(w.tree()->selected_linears(), kept);
    w.method_panel()->set_settings(settings("fp16", model_dir));
    w.apply_to_selection();
    auto* stack = w.layer_config()->undo_stack();
    QCOMPARE(stack->undoText(), QString("Set 2 layers to fp16"));
    QCOMPARE(w.tree()->method_text(kept[0]), QString("fp16"));
    QCOMPARE(w.tree()->method_text("model.layers.0.mlp.up_proj"), QString());
    stack->undo();
    QCOMPARE(w.tree()->method_text(kept[0]), QString());
    QVERIFY(w.layer_config()->overrides().isEmpty());
    stack->redo();
    QCOMPARE(w.tree()->method_text(kept[1]), QString("fp16"));
    w.tree()->select_linears({kept[1]});
    w.apply_to_selection();  // the same choice again: nothing to undo
    QCOMPARE(stack->count(), 1);

    w.method_panel()->set_settings(settings("rtn", model_dir));
    QSignalSpy done(w.runs(), &app::RunController::finished);
    w.start_run();
    QVERIFY(done.wait(60000));
    const auto outcome = w.runs()->last_outcome();
    QCOMPARE(outcome->settings.layers.size(), 2);
    for (const auto& l : outcome->result.layers) {
      const bool keep = kept.contains(QString::fromStdString(l.name));
      QCOMPARE(l.choice.method, std::string(keep ? "fp16" : "rtn"));
      QCOMPARE(l.record == nullptr, keep);
    }
    QCOMPARE(w.tree()->method_text(kept[0]), QString("fp16"));  // the choice stays for the next run
  }

#if QS_WITH_HDF5
  // A project opens with its model: the tree shows each linear's method and
  // error, and selecting one fills the inspector's plots from the cache.
  void opensProjectAndInspectsALayer() {
    const auto fp = test::make_tiny_llama(test::tiny_config(), 2);
    model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("gptq", {3, 32, false, 1.0}, "test"));
    plan.add_rule({"model.layers.1.mlp.down_proj", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
    pipeline::PipelineOptions options;
    options.analyses = true;
    test::RecordingFeedback fb;
    const auto r = pipeline::run_pipeline(dec, test::random_calibration(101, 4, 16, 1), plan, options, fb);
    project::Project p;
    p.model = project::model_ref(fp, dir_.path().toStdString());
    p.layers = project::layer_entries(r);
    const QString file = dir_.filePath("run.qsproj");
    project::save_project(p, file.toStdString());

    app::MainWindow w;
    w.show();
    QVERIFY(open_and_wait(w, file));
    const auto& o = w.models()->outline();
    QCOMPARE(o.project_path, file);
    QCOMPARE(fs::path(o.fp_model.toStdString()), fs::path(p.model.path));  // what Compare and the preview read
    QVERIFY(o.warning.isEmpty());
    QCOMPARE(o.inspections.size(), 13);
    QCOMPARE(o.blocks[0].linears[0].method, QString("gptq W3g32"));
    QVERIFY(o.blocks[0].linears[0].output_rel_mse > 0);
    QCOMPARE(o.blocks[1].linears[6].method, QString("fp16"));

    w.inspect("model.layers.0.mlp.up_proj");
    auto* inspector = w.findChild<widgets::LayerInspector*>();
    QCOMPARE(inspector->spectrum()->graphCount(), 6);            // W, E, input-weighted E, each with its energy
    QCOMPARE(inspector->spectrum()->graph(0)->dataCount(), 64);  // min(96, 64) singular values
    QCOMPARE(inspector->heatmap()->cell_count(), 96 * 2);        // 96 rows × 2 groups of 32
    // A linear the project kept in FP has no cached analysis: previewed from the model.
    QSignalSpy ready(w.preview(), &app::LayerPreviewController::ready);
    w.inspect("model.layers.1.mlp.down_proj");
    QVERIFY(ready.wait(20000));
    QCOMPARE(inspector->spectrum()->graph(0)->dataCount(), 64);
  }

  // A run from the method panel: block-by-block live perplexity on the run
  // page, the tree showing each linear's method and error, the open model
  // untouched, and the run saved as a project with its perplexity curve.
  void runsAMethodWithLivePerplexityAndSavesIt() {
    const QString model_dir = write_model_with_tokenizer();
    app::MainWindow w;
    w.show();
    QVERIFY(open_and_wait(w, model_dir));
    w.method_panel()->set_settings(settings("gptq", model_dir));
    QSignalSpy done(w.runs(), &app::RunController::finished);
    // Watchdog: while the run is in progress the GUI thread must never work
    // 100 ms between two ticks of a 5 ms timer (the work belongs on the worker
    // thread). The thread's own CPU time is what counts: the wall time between
    // ticks also holds the scheduler's turns on a loaded machine, reported, not
    // asserted.
    bool running = false;
    qint64 ticks = 0, longest_gap_ms = 0;
    double longest_busy_ms = 0, cpu_at_tick = gui_thread_cpu_ms();
    QElapsedTimer since_tick;
    QTimer watchdog;
    watchdog.setInterval(5);
    connect(&watchdog, &QTimer::timeout, this, [&] {
      const double cpu = gui_thread_cpu_ms();
      if (running) {
        ++ticks;
        longest_gap_ms = std::max(longest_gap_ms, since_tick.elapsed());
        longest_busy_ms = std::max(longest_busy_ms, cpu - cpu_at_tick);
      }
      cpu_at_tick = cpu;
      since_tick.restart();
    });
    connect(w.runs(), &app::RunController::finished, this, [&] { running = false; });
    since_tick.start();
    watchdog.start();
    running = true;
    QTest::mouseClick(w.method_panel()->findChild<QPushButton*>("runButton"), Qt::LeftButton);
    QVERIFY(done.wait(60000));
    watchdog.stop();
    qInfo("GUI thread during the run: %lld ticks, longest gap %lld ms, longest busy %.1f ms", ticks, longest_gap_ms,
          longest_busy_ms);
    QVERIFY(ticks > 0);
    QVERIFY2(longest_busy_ms < 100, qPrintable(QString("the GUI thread worked %1 ms in one go").arg(longest_busy_ms)));
    auto* view = w.findChild<widgets::RunView*>();
    QCOMPARE(view->perplexity_points(), 3);  // FP, then after each of the 2 blocks
    QCOMPARE(view->divergence_points(), 2);  // per-token KL to FP after each block
    QVERIFY(view->status().startsWith("Done"));
    const auto& o = w.models()->outline();
    QCOMPARE(o.blocks[1].linears[6].method, QString("gptq W3g32"));
    QVERIFY(o.blocks[1].linears[6].output_rel_mse > 0);
    QCOMPARE(o.inspections.size(), 14);
    QVERIFY(w.models()->model()->quantized.empty());
    QVERIFY(w.method_panel()->findChild<QPushButton*>("runButton")->isEnabled());

    // Unsaved results: the title's [*], an autosave off the GUI thread to a side
    // file a crashed session would offer to recover, removed once saved.
    QVERIFY(w.isWindowModified());
    QSignalSpy autosaved(w.session(), &app::Session::autosaved);
    w.session()->autosave();
    QVERIFY(w.session()->autosaving());
    QVERIFY(autosaved.wait(20000));
    const QString side = w.session()->autosave_path();
    QVERIFY(app::Session::recoverable().contains(side));
    QCOMPARE(project::load_project(side.toStdString()).layers.size(), size_t{14});

    const QString file = QDir(model_dir).filePath("gui-run.qsproj");
    QVERIFY(w.save_project(file));
    QVERIFY(!w.isWindowModified());
    QVERIFY(!QFile::exists(side));
    {  // Reopened, the project shows the same state: methods, errors, analyses.
      app::MainWindow again;
      QVERIFY(open_and_wait(again, file));
      const auto& o2 = again.models()->outline();
      QCOMPARE(o2.inspections.size(), o.inspections.size());
      for (int b = 0; b < o.blocks.size(); ++b)
        for (int i = 0; i < o.blocks[b].linears.size(); ++i) {
          QCOMPARE(o2.blocks[b].linears[i].method, o.blocks[b].linears[i].method);
          QCOMPARE(o2.blocks[b].linears[i].output_rel_mse, o.blocks[b].linears[i].output_rel_mse);
        }
      QCOMPARE(o2.inspections.first().sv_error, o.inspections.first().sv_error);
      QVERIFY(!again.isWindowModified());
    }

    // File > Export: the run's model as a GPTQ checkpoint whose codes read back
    // bit for bit; AWQ cannot hold 3 bits and says so, writing nothing.
    auto* dialog = w.open_export_dialog();
    QVERIFY(dialog);
    const QString gptq_dir = QDir(model_dir).filePath("export-gptq");
    dialog->set_format("gptq");
    dialog->set_destination(gptq_dir);
    QSignalSpy exported(dialog, &app::CheckpointExportDialog::exported);
    dialog->start_export();
    QVERIFY(dialog->busy());
    QVERIFY(exported.wait(60000));
    QVERIFY(dialog->status_text().contains("14 quantized linears"));
    const auto back = checkpoint::load_model(gptq_dir.toStdString());
    for (const auto& l : w.runs()->last_outcome()->result.layers)
      QVERIFY2(torch::equal(back.quantized.at(l.name)->unpacked_codes(), l.record->unpacked_codes()), l.name.c_str());
    app::MainWindow reopened;  // the export opens as a model: every linear listed, stored packed
    QVERIFY(open_and_wait(reopened, gptq_dir));
    QCOMPARE(reopened.tree()->visible_linear_count(), 14);
    QCOMPARE(reopened.models()->outline().blocks[1].linears[6].in_features, qint64{96});
    const QString awq_dir = QDir(model_dir).filePath("export-awq");
    dialog->set_format("awq");
    dialog->set_destination(awq_dir);
    QSignalSpy refused(dialog, &app::CheckpointExportDialog::failed);
    dialog->start_export();
    QVERIFY(refused.wait(60000));
    QVERIFY2(refused.at(0).at(0).toString().contains("4-bit, not 3"), qPrintable(refused.at(0).at(0).toString()));
    QVERIFY(!QDir(awq_dir).exists() || QDir(awq_dir).isEmpty());
    QCOMPARE(w.issues()->count(), 1);
    const auto p = project::load_project(file.toStdString());
    QCOMPARE(p.layers.size(), size_t{14});
    QCOMPARE(p.results.curve.size(), size_t{3});
    QCOMPARE(p.results.curve.back().blocks, int64_t{2});
    QVERIFY(p.layers[0].record != nullptr);
  }

  // Cancel stops a learned method between optimizer steps; the tree and the
  // open model stay as they were and Run is available again.
  void cancelledRunKeepsThePreviousState() {
    app::MainWindow w;
    open_with_lwc(w, 500);
    if (QTest::currentTestFailed()) return;
    QObject::connect(w.runs(), &app::RunController::loss_point, w.runs(), &app::RunController::cancel);
    QSignalSpy failed(w.runs(), &app::RunController::failed);
    w.start_run();
    QVERIFY(failed.wait(60000));
    QVERIFY(failed.at(0).at(1).toBool());
    QVERIFY(w.models()->outline().blocks[0].linears[0].method.isEmpty());
    QVERIFY(w.models()->model()->quantized.empty());
    QVERIFY(!w.runs()->busy());
    QVERIFY(w.findChild<widgets::RunView*>()->status().startsWith("Cancelled"));
  }

  // Cancelled in block 1, a run keeps block 0 in its journal: Run with the
  // same settings takes it instead of training it again and ends with the
  // model of a run never interrupted. The journal goes once the results are
  // autosaved.
  void aCancelledRunGoesOnWhereItStopped() {
    app::MainWindow w;
    const auto s = open_with_lwc(w, 3);
    if (QTest::currentTestFailed()) return;
    // Block 1 outlasts the cancel's trip through the event loop.
    QStringList block_1;
    for (auto role : model::kLinearRoles) block_1 << QString::fromStdString(model::linear_name(1, role));
    w.layer_config()->set(block_1,
                          widgets::LayerSetting{"lwc", s.bits, s.group, s.symmetric, {{"epochs", qlonglong{20}}}});
    QStringList lines, trained;
    connect(w.runs(), &app::RunController::log_line, this, [&](const QString& l) { lines << l; });
    connect(w.runs(), &app::RunController::loss_point, this, [&](const QString& series) {
      if (!trained.contains(series)) trained << series;
    });
    const auto cancel_in_block_1 =
        connect(w.runs(), &app::RunController::loss_point, w.runs(), [&w](const QString& series) {
          if (series.startsWith("layer 1")) w.runs()->cancel();
        });
    QSignalSpy failed(w.runs(), &app::RunController::failed);
    w.start_run();
    QVERIFY(failed.wait(60000));
    QVERIFY(failed.at(0).at(1).toBool());
    disconnect(cancel_in_block_1);
    // The run stated its memory plan before the first block, as the command line does.
    QVERIFY2(lines.filter("memory plan:").size() == 1 && lines.filter("host peak").size() == 1,
             qPrintable(lines.join('\n')));
    QVERIFY2(lines.filter("are kept in").filter("goes on from block 1").size() == 1, qPrintable(lines.join('\n')));

    lines.clear();
    trained.clear();
    QSignalSpy done(w.runs(), &app::RunController::finished);
    QSignalSpy autosaved(w.session(), &app::Session::autosaved);
    w.start_run();
    QVERIFY(done.wait(60000));
    QVERIFY2(lines.filter("going on from block 1").size() == 1, qPrintable(lines.join('\n')));
    QCOMPARE(trained, QStringList{"layer 1 lwc loss"});
    const auto resumed = w.runs()->last_outcome();
    QVERIFY(!resumed->journal.empty());
    QVERIFY(autosaved.count() > 0 || autosaved.wait(20000));
    QTRY_VERIFY(!fs::exists(resumed->journal));

    w.start_run();  // no journal left: trained from the first block
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 2, 60000);
    QVERIFY(trained.contains("layer 0 lwc loss"));
    const auto whole = w.runs()->last_outcome();
    QCOMPARE(resumed->result.layers.size(), whole->result.layers.size());
    for (size_t i = 0; i < whole->result.layers.size(); ++i) {
      const auto& a = resumed->result.layers[i];
      const auto& b = whole->result.layers[i];
      QVERIFY2(torch::equal(a.record->unpacked_codes(), b.record->unpacked_codes()) &&
                   torch::equal(a.record->scales, b.record->scales),
               b.name.c_str());
    }
  }

  // Run > Refine Quantized Model trains RILQ over the last run's model, and
  // over an opened project's, without quantizing again; cancel keeps the run.
  void refinesTheLastRunAndAnOpenedProject() {
    const QString model_dir = write_model_with_tokenizer();
    app::MainWindow w;
    QVERIFY(open_and_wait(w, model_dir));
    auto* action = w.findChild<QAction*>("refineAction");
    QVERIFY(action && !action->isEnabled());
    w.start_refine();
    QVERIFY(!w.runs()->busy());  // nothing quantized yet
    w.method_panel()->set_settings(settings("rtn", model_dir));
    QSignalSpy done(w.runs(), &app::RunController::finished);
    QSignalSpy failed(w.runs(), &app::RunController::failed);
    w.start_run();
    QVERIFY(done.wait(60000));
    const auto rtn = w.runs()->last_outcome();
    QVERIFY(action->isEnabled());
    const QString rtn_project = dir_.filePath("rtn.qsproj");
    QVERIFY(w.save_project(rtn_project));

    w.method_panel()->set_settings(refine_settings(model_dir));
    {
      const auto c = connect(w.runs(), &app::RunController::loss_point, w.runs(), &app::RunController::cancel);
      w.start_refine();
      QVERIFY(failed.wait(60000));
      disconnect(c);
    }
    QVERIFY(failed.takeFirst().at(1).toBool());
    QCOMPARE(w.runs()->last_outcome(), rtn);
    QVERIFY(!w.session()->dirty());

    QString rilq_status;
    const auto watch = connect(w.runs(), &app::RunController::progress_changed, this, [&](const QString& stage) {
      if (stage == "rilq") rilq_status = w.statusBar()->currentMessage();
    });
    w.start_refine();
    QVERIFY(done.wait(60000));
    disconnect(watch);
    QVERIFY2(rilq_status.startsWith("RILQ: sequence ") && rilq_status.endsWith(" of at most 24"),
             qPrintable(rilq_status));
    const auto refined = w.runs()->last_outcome();
    QVERIFY(refined != rtn);
    QCOMPARE(refined->result.refinements.size(), size_t{1});
    QCOMPARE(refined->result.refinements[0].linears, int64_t{14});
    QCOMPARE(refined->project.layers.size(), rtn->project.layers.size());
    for (size_t i = 0; i < rtn->project.layers.size(); ++i) {
      const auto &before = rtn->project.layers[i], &after = refined->project.layers[i];
      QCOMPARE(after.method, before.method);
      QCOMPARE(after.output_rel_mse, before.output_rel_mse);
      QVERIFY(!before.record->lora_a.defined());
      QCOMPARE(after.record->lora_a.size(0), int64_t{8});
      QVERIFY(torch::equal(after.record->unpacked_codes(), before.record->unpacked_codes()));
    }
    QVERIFY(refined->project.settings.plan_json.find("\"then\":{\"method\":\"rilq\"") != std::string::npos);
    QVERIFY(refined->fp_perplexity > 0 && refined->perplexity > 0);
    QCOMPARE(refined->project.results.ppl_quantized, refined->perplexity);
    QVERIFY(w.session()->dirty());
    QVERIFY2(w.findChild<widgets::RunView*>()->status().startsWith("Done: rilq refined 14 linears"),
             qPrintable(w.findChild<widgets::RunView*>()->status()));

    w.start_refine();  // a project records one refinement
    QVERIFY(failed.wait(60000));
    QVERIFY2(failed.last().at(0).toString().contains("refined by rilq already"),
             qPrintable(failed.last().at(0).toString()));
    QVERIFY(w.save_project(dir_.filePath("refined.qsproj")));

    // The saved RTN project, opened: the same model refined the same way.
    QVERIFY(open_and_wait(w, rtn_project));
    QVERIFY(!w.models()->model()->quantized.empty());
    QVERIFY(action->isEnabled());
    w.start_refine();
    QVERIFY(done.wait(60000));
    const auto from_project = w.runs()->last_outcome();
    QCOMPARE(from_project->project.model.path, rtn->project.model.path);
    const auto& a = refined->result.refinements[0].reported;
    const auto& b = from_project->result.refinements[0].reported;
    for (const char* key : {"rilq initial validation loss", "rilq best validation loss"})
      QVERIFY2(std::abs(a.at(key) - b.at(key)) <= 1e-5 * std::abs(a.at(key)), key);
    const QString saved = dir_.filePath("project-refined.qsproj");
    QVERIFY(w.save_project(saved));
    const auto reread = project::project_weights(project::load_project(saved.toStdString()), saved.toStdString());
    QCOMPARE(reread.quantized.size(), size_t{14});
    for (const auto& [name, record] : reread.quantized) QVERIFY2(record->lora_a.defined(), name.c_str());
  }

  // A QuantScope checkpoint opened in the workbench is refined against the FP
  // model its quantscope.json names, and becomes the session's results.
  void refinesAnOpenedQuantscopeCheckpoint() {
    const QString model_dir = write_model_with_tokenizer();
    const std::string ckpt = dir_.filePath("rtn-ckpt").toStdString(), lost = dir_.filePath("lost-ckpt").toStdString();
    {
      const auto fp = checkpoint::load_model(model_dir.toStdString());
      model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
      const auto result = quantize_rtn(dec, 3);
      checkpoint::Provenance info;
      info.source_model = model_dir.toStdString();
      for (const auto& l : result.layers) info.linears[l.name] = {"rtn", {}, l.weight_mse, l.output_rel_mse, 0.0};
      checkpoint::save_quantscope_checkpoint(dec, info, ckpt);
      checkpoint::save_quantscope_checkpoint(dec, info, lost);
    }
    {  // The FP model of `lost` has moved away since it was quantized.
      const auto json_path = fs::path(lost) / "quantscope.json";
      std::ifstream in(json_path);
      auto j = nlohmann::json::parse(in);
      in.close();
      j["source_model"] = dir_.filePath("no-such-model").toStdString();
      std::ofstream(json_path) << j.dump();
    }
    app::MainWindow w;
    QVERIFY(open_and_wait(w, QString::fromStdString(ckpt)));
    QVERIFY(w.findChild<QAction*>("refineAction")->isEnabled());
    w.method_panel()->set_settings(refine_settings(model_dir));
    QSignalSpy done(w.runs(), &app::RunController::finished);
    QSignalSpy failed(w.runs(), &app::RunController::failed);
    w.start_refine();
    QVERIFY(done.wait(60000));
    check_refined(*w.runs()->last_outcome(), model_dir);
    QVERIFY(w.session()->dirty());
    QVERIFY(w.save_project(dir_.filePath("from-checkpoint.qsproj")));

    // Its FP model moved: the one the user names instead must exist.
    QVERIFY(open_and_wait(w, QString::fromStdString(lost)));
    w.start_refine(dir_.filePath("also-gone"));
    QVERIFY(failed.wait(60000));
    const QString message = failed.last().at(0).toString();
    QVERIFY2(message.contains("also-gone") && message.contains("not there"), qPrintable(message));
    w.start_refine(model_dir);
    QVERIFY(done.wait(60000));
    check_refined(*w.runs()->last_outcome(), model_dir);
  }

  // An export that records no FP model (as another tool's): the one named supplies the targets.
  void refinesAnOpenedPackedExport() {
    const QString model_dir = write_model_with_tokenizer();
    const auto exported = dir_.filePath("gptq-export").toStdString();
    {
      const auto fp = checkpoint::load_model(model_dir.toStdString());
      model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
      quantize_rtn(dec, 4);
      checkpoint::ExportOptions o;
      o.format = checkpoint::Format::Gptq;
      o.tokenizer_source = model_dir.toStdString();
      checkpoint::export_checkpoint(dec, o, exported);
    }
    app::MainWindow w;
    QVERIFY(open_and_wait(w, QString::fromStdString(exported)));
    QVERIFY(w.findChild<QAction*>("refineAction")->isEnabled());
    w.method_panel()->set_settings(refine_settings(model_dir));
    QSignalSpy done(w.runs(), &app::RunController::finished);
    QSignalSpy failed(w.runs(), &app::RunController::failed);
    w.start_refine(model_dir);
    QVERIFY2(done.wait(60000), failed.isEmpty() ? "" : qPrintable(failed.last().at(0).toString()));
    check_refined(*w.runs()->last_outcome(), model_dir, "unknown");  // nor the methods
    QVERIFY(w.save_project(dir_.filePath("from-export.qsproj")));
  }

  // An export QuantScope wrote records its FP model, methods and run: the
  // Model dock and the summary show them, and Refine needs no model named.
  void refinesAnExportThatRecordsItsModel() {
    const QString model_dir = write_model_with_tokenizer();
    const auto exported = dir_.filePath("gptq-export-recorded").toStdString();
    {
      const auto fp = checkpoint::load_model(model_dir.toStdString());
      model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
      checkpoint::ExportOptions o;
      o.format = checkpoint::Format::Gptq;
      o.tokenizer_source = model_dir.toStdString();
      o.provenance.source_model = model_dir.toStdString();
      for (const auto& l : quantize_rtn(dec, 4).layers)
        o.provenance.linears[l.name] = {"rtn", {}, l.weight_mse, l.output_rel_mse, 0.0};
      o.provenance.run_json =
          R"({"method": "rtn", "bits": 4, "group": 32, "calibration": {"text": "calib.txt", "nsamples": 4,
              "seqlen": 16}, "eval": {"text": "wiki.txt", "ppl": 12.5, "ppl_fp": 10.25}})";
      checkpoint::export_checkpoint(dec, o, exported);
    }
    app::MainWindow w;
    QVERIFY(open_and_wait(w, QString::fromStdString(exported)));
    const auto& facts = w.models()->outline().facts;
    QVERIFY(facts.contains({"Recorded run", "rtn W4g32"}));
    QVERIFY(facts.contains({"Calibration", "4 × 16 tokens of calib.txt"}));
    QVERIFY(facts.contains({"Perplexity", "12.5000 (FP 10.2500), wiki.txt"}));
    QVERIFY(facts.contains({"Quantized from", model_dir}));
    for (const auto& block : w.models()->outline().blocks)
      for (const auto& row : block.linears) {
        QVERIFY2(row.method.startsWith("rtn W4"), qPrintable(row.name + ": " + row.method));
        QVERIFY(row.output_rel_mse > 0);
      }
    w.method_panel()->set_settings(refine_settings(model_dir));
    QSignalSpy done(w.runs(), &app::RunController::finished);
    QSignalSpy failed(w.runs(), &app::RunController::failed);
    w.start_refine();
    QVERIFY2(done.wait(60000), failed.isEmpty() ? "" : qPrintable(failed.last().at(0).toString()));
    check_refined(*w.runs()->last_outcome(), model_dir);
  }
#endif

  // Pause holds a learned method between optimizer steps; Cancel ends a paused run.
  void pausedRunWaitsAndCanBeCancelled() {
    const QString model_dir = write_model_with_tokenizer();
    app::MainWindow w;
    QVERIFY(open_and_wait(w, model_dir));
    auto s = settings("lwc", model_dir);
    s.params.insert("epochs", qlonglong{500});
    w.method_panel()->set_settings(s);
    int steps = 0;
    connect(w.runs(), &app::RunController::loss_point, this, [&] {
      if (++steps == 1) w.runs()->set_paused(true);
    });
    QSignalSpy paused(w.runs(), &app::RunController::paused_changed);
    QSignalSpy failed(w.runs(), &app::RunController::failed);
    w.start_run();
    QTRY_VERIFY_WITH_TIMEOUT(w.runs()->paused(), 30000);
    QTest::qWait(500);  // a step already under way may still report
    const int held = steps;
    QTest::qWait(500);
    QCOMPARE(steps, held);
    w.runs()->cancel();
    QVERIFY(failed.wait(20000));
    QVERIFY(failed.at(0).at(1).toBool());
    QVERIFY(!w.runs()->busy());
    QCOMPARE(paused.last().at(0).toBool(), false);
  }

 private:
  static bool open_and_wait(app::MainWindow& w, const QString& path) {
    QSignalSpy loaded(w.models(), &app::ModelController::model_loaded);
    w.open_model(path);
    return loaded.wait(20000);
  }

  // A tiny model with a byte-level tokenizer and a text to calibrate on.
  QString write_model_with_tokenizer() { return test::write_gui_model(dir_.filePath("with-tokenizer")); }

  // The tiny model opened in `w`, with LWC of `epochs` epochs in the method dock.
  widgets::RunSettings open_with_lwc(app::MainWindow& w, qlonglong epochs) {
    const QString dir = write_model_with_tokenizer();
    auto s = settings("lwc", dir);
    s.params.insert("epochs", epochs);
    if (!open_and_wait(w, dir)) {
      QTest::qFail("the tiny model did not open", __FILE__, __LINE__);
      return s;
    }
    w.method_panel()->set_settings(s);
    return s;
  }

  static widgets::RunSettings settings(const QString& method, const QString& dir) {
    return test::gui_run_settings(method, dir);
  }

  // RILQ that trains the tiny model in well under a second.
  static QVariantMap fast_rilq() {
    return {{"rank", qlonglong{8}},
            {"alpha", 8.0},
            {"lr", 5e-3},
            {"grad_accum", qlonglong{2}},
            {"eval_every", qlonglong{2}},
            {"max_steps", qlonglong{24}}};
  }

  static widgets::RunSettings refine_settings(const QString& model_dir) {
    auto s = settings("rtn", model_dir);
    s.then = "rilq";
    s.then_params = fast_rilq();
    return s;
  }

  static pipeline::PipelineResult quantize_rtn(model::Decoder& dec, int bits) {
    test::RecordingFeedback fb;
    return pipeline::run_pipeline(
        dec, test::random_calibration(260, 4, 16, 3),
        pipeline::QuantPlan(pipeline::QuantPlan::make_choice("rtn", {bits, 32, false, 1.0}, "test")), {}, fb);
  }

#if QS_WITH_HDF5
  // fast_rilq()'s adapters on every linear (quantized by `method`), against the FP model at `model_dir`.
  static void check_refined(const app::RunOutcome& refined, const QString& model_dir,
                            const std::string& method = "rtn") {
    QCOMPARE(fs::path(refined.project.model.path), fs::absolute(model_dir.toStdString()).lexically_normal());
    QCOMPARE(refined.result.refinements.at(0).linears, int64_t{14});
    for (const auto& l : refined.project.layers) {
      QCOMPARE(l.method, method);
      QCOMPARE(l.record->lora_a.size(0), int64_t{8});
    }
  }
#endif

  QTemporaryDir dir_;
};

QS_REGISTER_TEST(TestMainWindow);
#include "test_main_window.moc"
