// quantscope: the workbench. An optional argument opens a model or project at
// start; --layer selects a linear once it is open, --run starts a method on it
// (with --calib and optionally --eval), --bench-kernels times the packed
// kernels on its shapes, and --screenshot renders the window to a PNG and
// quits, after the run or benchmark when there is one (for documentation and
// bug reports; works with QT_QPA_PLATFORM=offscreen).

#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include "app/gui/kernel_bench_controller.h"
#include "app/gui/main_window.h"
#include "app/gui/model_controller.h"
#include "app/gui/run_controller.h"
#include "widgets/method_panel.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
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
  const QCommandLineOption tab("tab", "Inspector tab to show: spectrum, error-map or outliers.", "tab");
  const QCommandLineOption size("size", "Window size for --screenshot, WIDTHxHEIGHT.", "size", "1400x860");
  const QCommandLineOption run("run", "Run a method once the model is open: METHOD:BITS:GROUP (gptq:4:128).", "spec");
  const QCommandLineOption calib("calib", "Calibration text for --run.", "file");
  const QCommandLineOption eval("eval", "Text for the live perplexity of --run.", "file");
  const QCommandLineOption bench("bench-kernels", "Time the packed kernels on the model's shapes once it is open.");
  cli.addOptions({layer, tab, shot, size, run, calib, eval, bench});
  cli.process(app);

  qs::app::MainWindow window;
  if (cli.isSet(shot)) {
    const auto wh = cli.value(size).split('x');
    if (wh.size() == 2) window.resize(wh[0].toInt(), wh[1].toInt());
  }
  window.show();
  auto screenshot = [&] {
    QTimer::singleShot(500, &window, [&] {
      const bool ok = window.grab().save(cli.value(shot));
      QApplication::exit(ok ? 0 : 1);
    });
  };
  QObject::connect(window.models(), &qs::app::ModelController::model_loaded, &window, [&] {
    if (cli.isSet(run)) {
      const auto parts = cli.value(run).split(':');
      auto s = window.method_panel()->settings();
      s.method = parts.value(0);
      s.bits = parts.value(1, "4").toInt();
      s.group = parts.value(2, "128").toLongLong();
      s.params.clear();
      s.calibration_path = cli.value(calib);
      s.eval_path = cli.value(eval);
      window.method_panel()->set_settings(s);
      window.start_run();
      return;
    }
    if (cli.isSet(bench)) {
      window.start_kernel_bench();
      return;
    }
    if (cli.isSet(layer)) window.select_layer(cli.value(layer));
    if (cli.isSet(tab)) window.show_inspector_tab(cli.value(tab));
    if (cli.isSet(shot)) screenshot();
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
