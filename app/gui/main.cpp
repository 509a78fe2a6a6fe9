// quantscope: the workbench. An optional argument opens a model or project at
// start; --layer selects a linear once it is open, --run starts a method on it
// (with --calib and optionally --eval), --bench-kernels times the packed
// kernels on its shapes, and --screenshot renders the window to a PNG and
// quits, after the run or benchmark when there is one (for documentation and
// bug reports; works with QT_QPA_PLATFORM=offscreen); --compare runs methods on
// --layer alone and shoots the Compare tab. --timings prints on
// stderr how long opening and drawing a --layer took, and the longest the GUI
// thread went without serving a 5 ms timer while a run was in progress.

#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QTimer>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>
#include <string_view>

#include "app/gui/compare_controller.h"
#include "app/gui/kernel_bench_controller.h"
#include "app/gui/layer_preview.h"
#include "app/gui/main_window.h"
#include "app/gui/model_controller.h"
#include "app/gui/run_controller.h"
#include "app/gui/session.h"
#include "core/allocator_policy.h"
#include "widgets/compare_view.h"
#include "widgets/method_panel.h"

namespace {

// --help and --version print and quit, so they need no display.
bool only_prints(int argc, char** argv) {
  const std::set<std::string_view> printing = {"-h", "-?", "--help", "--help-all", "-v", "--version"};
  return std::any_of(argv + 1, argv + argc, [&](const char* a) { return printing.count(a) > 0; });
}

}  // namespace

int main(int argc, char** argv) {
  qs::use_mapped_large_allocations();
  std::unique_ptr<QCoreApplication> app;
  if (only_prints(argc, argv))
    app = std::make_unique<QCoreApplication>(argc, argv);
  else
    app = std::make_unique<QApplication>(argc, argv);
  QApplication::setOrganizationName("QuantScope");
  QApplication::setApplicationName("QuantScope");
  QApplication::setApplicationVersion(QUANTSCOPE_VERSION);

  QCommandLineParser cli;
  cli.setApplicationDescription("QuantScope: a workbench for post-training quantization of LLMs");
  cli.addHelpOption();
  cli.addVersionOption();
  cli.addPositionalArgument("model", "A .gguf, .safetensors, HF directory or .qsproj project to open.", "[model]");
  const QCommandLineOption layer("layer", "Select this linear once open (model.layers.3.mlp.up_proj).", "name");
  const QCommandLineOption shot("screenshot", "Save the window as a PNG once open, then quit.", "file");
  const QCommandLineOption tab("tab", "Inspector tab to show: spectrum, error-map, outliers or histogram.", "tab");
  const QCommandLineOption size("size", "Window size for --screenshot, WIDTHxHEIGHT.", "size", "1400x860");
  const QCommandLineOption run("run",
                               "Run a method once the model is open: METHOD:BITS:GROUP[:THEN[:NAME=VALUE,...]] "
                               "(gptq:4:128, rtn:3:128:rilq:max_steps=48,eval_every=2).",
                               "spec");
  const QCommandLineOption refine("refine",
                                  "Refine the opened project or quantized checkpoint once open: THEN[:NAME=VALUE,...] "
                                  "(rilq:max_steps=48,eval_every=2).",
                                  "spec");
  const QCommandLineOption fp("fp",
                              "For --refine: the FP model the checkpoint was quantized from (default: the one "
                              "it records).",
                              "model");
  const QCommandLineOption calib("calib", "Calibration text for --run and --refine.", "file");
  const QCommandLineOption eval("eval", "Text for the live perplexity of --run and --refine.", "file");
  const QCommandLineOption bench("bench-kernels", "Time the packed kernels on the model's shapes once it is open.");
  const QCommandLineOption compare("compare", "Compare these methods on --layer (rtn,gptq,awq), with --calib.",
                                   "methods");
  const QCommandLineOption timings("timings", "Print the opening time and the longest GUI-thread stall of a run.");
  cli.addOptions({layer, tab, shot, size, run, refine, fp, calib, eval, bench, compare, timings});
  cli.process(*app);
  if (!qobject_cast<QApplication*>(app.get())) {  // "--help" was another option's value
    std::fprintf(stderr, "quantscope: --help and --version go alone\n");
    return 2;
  }
  QElapsedTimer since_start;
  since_start.start();

  qs::app::MainWindow window;
  if (cli.isSet(shot)) {
    const auto wh = cli.value(size).split('x');
    if (wh.size() == 2) window.resize(wh[0].toInt(), wh[1].toInt());
  }
  window.show();
  if (cli.isSet(shot))
    window.session()->set_autosave_minutes(0);  // a documentation run leaves nothing to recover
  else
    window.offer_recovery();
  auto screenshot = [&] {
    QTimer::singleShot(500, &window, [&] {
      const bool ok = window.grab().save(cli.value(shot));
      QApplication::exit(ok ? 0 : 1);
    });
  };
  qint64 longest_stall_ms = 0, watched_ticks = 0;
  QElapsedTimer since_tick;
  QTimer watchdog;
  if (cli.isSet(timings)) {
    watchdog.setInterval(5);
    QObject::connect(&watchdog, &QTimer::timeout, &window, [&] {
      if (window.runs()->busy()) longest_stall_ms = std::max(longest_stall_ms, since_tick.elapsed()), ++watched_ticks;
      since_tick.restart();
    });
    QObject::connect(window.runs(), &qs::app::RunController::finished, &window, [&] {
      std::fprintf(stderr, "run: longest GUI-thread stall %lld ms over %lld watchdog ticks\n",
                   static_cast<long long>(longest_stall_ms), static_cast<long long>(watched_ticks));
    });
    since_tick.start();
    watchdog.start();
  }
  // NAME=VALUE,... as typed parameters (bool, integer, real, else text).
  auto then_params = [](const QString& list) {
    QVariantMap out;
    for (const auto& kv : list.split(',', Qt::SkipEmptyParts)) {
      const auto name = kv.section('=', 0, 0), text = kv.section('=', 1);
      bool is_int = false, is_double = false;
      const qlonglong i = text.toLongLong(&is_int);
      const double d = text.toDouble(&is_double);
      out.insert(name, text == "true" || text == "false" ? QVariant(text == "true")
                       : is_int                          ? QVariant(i)
                       : is_double                       ? QVariant(d)
                                                         : QVariant(text));
    }
    return out;
  };
  QElapsedTimer selecting;
  QElapsedTimer comparing;
  auto layer_shown = [&] {
    window.repaint();  // the plots drawn on screen, not just scheduled
    if (cli.isSet(timings))
      std::fprintf(stderr, "selected %s and drew the inspector in %lld ms\n", qPrintable(cli.value(layer)),
                   static_cast<long long>(selecting.elapsed()));
    if (cli.isSet(compare)) {
      auto s = window.method_panel()->settings();
      s.calibration_path = cli.value(calib);
      window.method_panel()->set_settings(s);
      const auto methods = cli.value(compare).split(',');
      window.compare_view()->set_methods(methods, methods);
      window.show_inspector_tab("compare");
      comparing.start();
      window.start_compare();
      return;
    }
    if (cli.isSet(shot)) screenshot();
  };
  QObject::connect(window.compare(), &qs::app::CompareController::finished, &window, [&] {
    if (cli.isSet(timings))
      std::fprintf(stderr, "compared %s on %s in %.1f s\n", qPrintable(cli.value(compare)),
                   qPrintable(cli.value(layer)), static_cast<double>(comparing.elapsed()) / 1000.0);
    if (cli.isSet(shot)) screenshot();
  });
  QObject::connect(window.compare(), &qs::app::CompareController::failed, &window, [&](const QString& message) {
    std::fprintf(stderr, "compare failed: %s\n", qPrintable(message));
    if (cli.isSet(shot)) QApplication::exit(1);
  });
  QObject::connect(window.models(), &qs::app::ModelController::model_loaded, &window, [&] {
    if (cli.isSet(timings))
      std::fprintf(stderr, "opened in %.2f s after start\n", static_cast<double>(since_start.elapsed()) / 1000.0);
    if (cli.isSet(run) || cli.isSet(refine)) {
      auto s = window.method_panel()->settings();
      if (cli.isSet(run)) {
        const auto parts = cli.value(run).split(':');
        s.method = parts.value(0);
        s.bits = parts.value(1, "4").toInt();
        s.group = parts.value(2, "128").toLongLong();
        s.params.clear();
        s.then = parts.value(3);
        s.then_params = then_params(parts.value(4));
      } else {
        const auto parts = cli.value(refine).split(':');
        s.then = parts.value(0);
        s.then_params = then_params(parts.value(1));
      }
      s.calibration_path = cli.value(calib);
      s.eval_path = cli.value(eval);
      window.method_panel()->set_settings(s);
      if (cli.isSet(run))
        window.start_run();
      else
        window.start_refine(cli.value(fp));
      return;
    }
    if (cli.isSet(bench)) {
      window.start_kernel_bench();
      return;
    }
    if (!cli.isSet(layer)) {
      if (cli.isSet(tab)) window.show_inspector_tab(cli.value(tab));
      if (cli.isSet(shot)) screenshot();
      return;
    }
    selecting.start();
    window.select_layer(cli.value(layer));
    if (cli.isSet(tab)) window.show_inspector_tab(cli.value(tab));
    // A layer no run has analysed is previewed on a worker thread: done when it
    // arrives, or when the inspector says why it cannot.
    if (window.preview()->busy()) {
      QObject::connect(window.preview(), &qs::app::LayerPreviewController::ready, &window, layer_shown,
                       Qt::SingleShotConnection);
      QObject::connect(window.preview(), &qs::app::LayerPreviewController::failed, &window, layer_shown,
                       Qt::SingleShotConnection);
    } else {
      layer_shown();
    }
  });
  QObject::connect(window.runs(), &qs::app::RunController::finished, &window, [&] {
    if (cli.isSet(shot)) screenshot();
  });
  QObject::connect(window.kernel_bench(), &qs::app::KernelBenchController::finished, &window, [&] {
    if (cli.isSet(shot)) screenshot();
  });
  QObject::connect(window.kernel_bench(), &qs::app::KernelBenchController::failed, &window, [&] {
    if (cli.isSet(shot)) QApplication::exit(1);
  });
  QObject::connect(window.runs(), &qs::app::RunController::failed, &window, [&] {
    if (cli.isSet(shot)) QApplication::exit(1);
  });
  QObject::connect(window.models(), &qs::app::ModelController::load_failed, &window, [&] {
    if (cli.isSet(shot)) QApplication::exit(1);
  });
  if (!cli.positionalArguments().isEmpty()) window.open_model(cli.positionalArguments().first());
  return QApplication::exec();
}
