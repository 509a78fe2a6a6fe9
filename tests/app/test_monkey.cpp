#include <QApplication>
#include <QDialog>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QMessageBox>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThreadPool>
#include <QTimer>
#include <QUndoStack>
#include <ctime>
#include <filesystem>
#include <random>

#include "app/gui/checkpoint_export_dialog.h"
#include "app/gui/compare_controller.h"
#include "app/gui/kernel_bench_controller.h"
#include "app/gui/layer_config.h"
#include "app/gui/layer_preview.h"
#include "app/gui/main_window.h"
#include "app/gui/model_controller.h"
#include "app/gui/run_controller.h"
#include "app/gui/session.h"
#include "tests/app/gui_fixtures.h"
#include "tests/support/test_registry.h"
#include "widgets/method_panel.h"
#include "widgets/model_outline.h"

using namespace qs;

namespace {

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

int process_threads() {
  return static_cast<int>(
      std::distance(std::filesystem::directory_iterator("/proc/self/task"), std::filesystem::directory_iterator()));
}

qint64 env_int(const char* name, qint64 fallback) {
  bool ok = false;
  const qint64 v = qEnvironmentVariable(name).toLongLong(&ok);
  return ok ? v : fallback;
}

// The workbench idle: no run, preview, comparison, benchmark or model load in flight.
bool idle(app::MainWindow& w) {
  return !w.runs()->busy() && !w.preview()->busy() && !w.compare()->busy() && !w.kernel_bench()->busy() &&
         !w.models()->busy() && !w.session()->autosaving();
}

bool wait_idle(app::MainWindow& w, int ms) {
  QElapsedTimer t;
  t.start();
  while (!idle(w) && t.elapsed() < ms) QTest::qWait(20);
  return idle(w);
}

// Message boxes a failed run or open leaves up (they do not block: open()),
// and export dialogs the monkey opened.
void close_dialogs() {
  for (QWidget* top : QApplication::topLevelWidgets())
    if (auto* d = qobject_cast<QDialog*>(top); d && d->isVisible()) {
      if (auto* e = qobject_cast<app::CheckpointExportDialog*>(d); e && e->busy()) continue;
      d->close();
    }
}

}  // namespace

// Random sequences of what a user does in the workbench, for
// QS_MONKEY_SECONDS (20 here; tests/bench/monkey.sh runs 600) with the seed
// QS_MONKEY_SEED: open a model or a saved project, select layers, switch the
// inspector's tabs, apply and reset per-layer choices, undo and redo, run,
// pause, resume and cancel, compare methods on a layer, save, open the export
// dialog. Nothing may crash or assert; the GUI thread's longest busy stretch
// and wall-time gap are reported; at the end every worker is done and no
// thread outlives the window.
class TestMonkey : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void randomUserActions() {
    QTemporaryDir tmp;
    const QString model = test::write_gui_model(tmp.filePath("model"));
    const qint64 seconds = env_int("QS_MONKEY_SECONDS", 20);
    const auto seed = static_cast<uint32_t>(env_int("QS_MONKEY_SEED", 1));
    std::mt19937 rng(seed);
    const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };

    // The threads a first window and run leave for good (torch's pool, Qt's
    // own) are the baseline the monkey's window is held to.
    {
      app::MainWindow warm;
      QVERIFY(open(warm, model));
      warm.method_panel()->set_settings(settings("rtn", model));
      QSignalSpy done(warm.runs(), &app::RunController::finished);
      warm.start_run();
      QVERIFY(done.wait(60000));
      QVERIFY(warm.save_project(tmp.filePath("warm.qsproj")));
      QVERIFY(wait_idle(warm, 60000));
    }
    QThreadPool::globalInstance()->waitForDone();
    const int baseline_threads = process_threads();

    auto w = std::make_unique<app::MainWindow>();
    w->show();
    QVERIFY(open(*w, model));

    double longest_busy_ms = 0, cpu_at_tick = thread_cpu_ms();
    qint64 longest_gap_ms = 0;
    QElapsedTimer since_tick;
    since_tick.start();
    QTimer watchdog;
    watchdog.setInterval(5);
    bool acting = false;  // time inside the monkey's own calls is the action's, not a stall
    QString last_action, busiest_after;
    connect(&watchdog, &QTimer::timeout, this, [&] {
      const double cpu = thread_cpu_ms();
      if (!acting) {
        if (cpu - cpu_at_tick > longest_busy_ms) busiest_after = last_action;
        longest_busy_ms = std::max(longest_busy_ms, cpu - cpu_at_tick);
        longest_gap_ms = std::max(longest_gap_ms, since_tick.elapsed());
      }
      cpu_at_tick = cpu;
      since_tick.restart();
    });
    watchdog.start();

    const QStringList tabs = {"spectrum", "error-map", "outliers", "histogram", "compare"};
    const QStringList methods = {"rtn", "gptq", "awq", "lwc"};
    QMap<QString, int> counts;
    int saved = 0;
    QElapsedTimer clock;
    clock.start();
    while (clock.elapsed() < seconds * 1000) {
      const auto& outline = w->models()->outline();
      QStringList layers;
      for (const auto& b : outline.blocks)
        for (const auto& l : b.linears) layers << l.name;
      const int action = pick(14);
      acting = true;
      switch (action) {
        case 0:
        case 1:
          if (!layers.isEmpty()) w->select_layer(layers[pick(static_cast<int>(layers.size()))]);
          counts[last_action = "select a layer"]++;
          break;
        case 2:
          w->show_inspector_tab(tabs[pick(static_cast<int>(tabs.size()))]);
          counts[last_action = "switch tab"]++;
          break;
        case 3:
          w->apply_to_selection();
          counts[last_action = "apply to selection"]++;
          break;
        case 4:
          w->reset_selection();
          counts[last_action = "reset selection"]++;
          break;
        case 5:
          w->layer_config()->undo_stack()->undo();
          counts[last_action = "undo"]++;
          break;
        case 6:
          w->layer_config()->undo_stack()->redo();
          counts[last_action = "redo"]++;
          break;
        case 7:
          if (!w->runs()->busy()) {
            auto s = settings(methods[pick(static_cast<int>(methods.size()))], model);
            s.bits = 2 + pick(3);
            w->method_panel()->set_settings(s);
            w->start_run();
          }
          counts[last_action = "run"]++;
          break;
        case 8:
          if (w->runs()->busy()) w->runs()->set_paused(!w->runs()->paused());
          counts[last_action = "pause or resume"]++;
          break;
        case 9:
          if (w->runs()->busy()) w->runs()->cancel();
          counts[last_action = "cancel"]++;
          break;
        case 10:
          w->start_compare();
          counts[last_action = "compare"]++;
          break;
        case 11:
          if (w->session()->has_results() && !w->runs()->busy() &&
              w->save_project(tmp.filePath(QString("monkey-%1.qsproj").arg(saved % 3))))
            ++saved;
          counts[last_action = "save"]++;
          break;
        case 12:
          if (!w->runs()->busy() && !w->models()->busy()) {
            if (w->session()->dirty()) w->save_project(tmp.filePath("before-open.qsproj"));
            const bool project = saved > 0 && pick(2) == 0;
            w->open_model(project ? tmp.filePath(QString("monkey-%1.qsproj").arg(pick(std::min(saved, 3)))) : model);
          }
          counts[last_action = "open"]++;
          break;
        case 13:
          if (auto* d = w->open_export_dialog()) d->close();
          counts[last_action = "export dialog"]++;
          break;
      }
      acting = false;
      QTest::qWait(pick(120));
      close_dialogs();
    }
    watchdog.stop();
    w->runs()->set_paused(false);
    w->runs()->cancel();
    w->compare()->cancel();
    QVERIFY2(wait_idle(*w, 120000), "a worker was still busy two minutes after the monkey stopped");
    close_dialogs();
    QString summary;
    for (auto it = counts.begin(); it != counts.end(); ++it)
      summary += QString(" %1 %2,").arg(it.key()).arg(it.value());
    qInfo("monkey, seed %u, %lld s:%s", seed, seconds, qPrintable(summary));
    qInfo("GUI thread between actions: longest busy %.1f ms (after '%s'), longest wall-time gap %lld ms",
          longest_busy_ms, qPrintable(busiest_after), longest_gap_ms);
    // As in TestMainWindow's run: the thread's own CPU time is what a stall
    // is; the wall-time gap also holds the scheduler's turns on a loaded machine.
    QVERIFY2(longest_busy_ms < 100, qPrintable(QString("the GUI thread worked %1 ms in one go").arg(longest_busy_ms)));
    w.reset();
    QThreadPool::globalInstance()->waitForDone();
    QTest::qWait(50);
    const int threads = process_threads();
    qInfo("threads: %d after the window, %d after the warm-up window", threads, baseline_threads);
    QVERIFY2(threads <= baseline_threads,
             qPrintable(QString("%1 threads outlive the window (%2 before)").arg(threads).arg(baseline_threads)));
  }

 private:
  static bool open(app::MainWindow& w, const QString& path) {
    QSignalSpy loaded(w.models(), &app::ModelController::model_loaded);
    w.open_model(path);
    return loaded.wait(20000);
  }

  static widgets::RunSettings settings(const QString& method, const QString& dir) {
    auto s = test::gui_run_settings(method, dir);
    if (method == "lwc") s.params.insert("epochs", qlonglong{2});
    return s;
  }
};

QS_REGISTER_TEST(TestMonkey);
#include "test_monkey.moc"
