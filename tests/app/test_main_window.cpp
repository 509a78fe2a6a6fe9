#include <QLineEdit>
#include <QMessageBox>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "app/gui/main_window.h"
#include "app/gui/model_controller.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"
#include "widgets/model_tree_view.h"

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

 private:
  QTemporaryDir dir_;
};

QS_REGISTER_TEST(TestMainWindow);
#include "test_main_window.moc"
