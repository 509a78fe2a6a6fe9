// quantscope: the workbench. An optional argument opens a model at start.

#include <QApplication>

#include "app/gui/main_window.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName("QuantScope");
  QApplication::setApplicationName("QuantScope");
  QApplication::setApplicationVersion(QUANTSCOPE_VERSION);
  qs::app::MainWindow window;
  window.show();
  const QStringList args = QApplication::arguments();
  if (args.size() > 1) window.open_model(args.at(1));
  return QApplication::exec();
}
