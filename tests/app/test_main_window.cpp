#include <QLineEdit>
#include <QMessageBox>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

#include "app/gui/main_window.h"
#include "app/gui/model_controller.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"
#include "widgets/error_heatmap.h"
#include "widgets/layer_inspector.h"
#include "widgets/model_tree_view.h"
#include "widgets/spectrum_plot.h"
#if QS_WITH_HDF5
#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"
#include "core/project/project_file.h"
#include "core/project/project_model.h"
#include "tests/pipeline/pipeline_fixtures.h"
#endif

using namespace qs;

class TestMainWindow : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    QCoreApplication::setOrganizationName("QuantScopeTest");
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
  }

  void filterNarrowsTree() {
    app::MainWindow w;
    QSignalSpy loaded(w.models(), &app::ModelController::model_loaded);
    w.open_model(dir_.path());
    QVERIFY(loaded.wait(20000));
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
  }

#if QS_WITH_HDF5
  // A project opens with its model: the tree shows each linear's method and
  // error, and selecting one fills the inspector's plots from the cache.
  void opensProjectAndInspectsALayer() {
    const auto fp = test::make_tiny_llama(test::tiny_config(), 2);
    model::Decoder dec(fp, torch::kCPU, torch::kFloat32);
    pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("gptq", {3, 32, false, 1.0}, "test"));
    plan.add_rule({"model.layers.1.mlp.down_proj", std::string("fp16"), {}, {}, {}, {}, {}});
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
    QSignalSpy loaded(w.models(), &app::ModelController::model_loaded);
    w.open_model(file);
    QVERIFY(loaded.wait(20000));
    const auto& o = w.models()->outline();
    QCOMPARE(o.project_path, file);
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
    w.inspect("model.layers.1.mlp.down_proj");
    QVERIFY(inspector->tabs()->isHidden() || !inspector->tabs()->isVisible());
  }
#endif

 private:
  QTemporaryDir dir_;
};

QS_REGISTER_TEST(TestMainWindow);
#include "test_main_window.moc"
