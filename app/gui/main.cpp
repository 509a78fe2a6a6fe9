// quantscope: the workbench. An optional argument opens a model or project at
// start; --layer selects a linear once it is open, and --screenshot renders the
// window to a PNG and quits (for documentation and bug reports; works with
// QT_QPA_PLATFORM=offscreen).

#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include "app/gui/main_window.h"
#include "app/gui/model_controller.h"

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
  cli.addOptions({layer, tab, shot, size});
  cli.process(app);

  qs::app::MainWindow window;
  if (cli.isSet(shot)) {
    const auto wh = cli.value(size).split('x');
    if (wh.size() == 2) window.resize(wh[0].toInt(), wh[1].toInt());
  }
  window.show();
  QObject::connect(window.models(), &qs::app::ModelController::model_loaded, &window, [&] {
    if (cli.isSet(layer)) window.select_layer(cli.value(layer));
    if (cli.isSet(tab)) window.show_inspector_tab(cli.value(tab));
    if (cli.isSet(shot))
      QTimer::singleShot(500, &window, [&] {
        const bool ok = window.grab().save(cli.value(shot));
        QApplication::exit(ok ? 0 : 1);
      });
  });
  QObject::connect(window.models(), &qs::app::ModelController::load_failed, &window, [&] {
    if (cli.isSet(shot)) QApplication::exit(1);
  });
  if (!cli.positionalArguments().isEmpty()) window.open_model(cli.positionalArguments().first());
  return QApplication::exec();
}
