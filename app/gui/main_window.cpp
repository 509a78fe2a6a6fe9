#include "app/gui/main_window.h"

#include <torch/cuda.h>

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>

#include "app/gui/model_controller.h"
#include "widgets/layer_inspector.h"
#include "widgets/model_summary_view.h"
#include "widgets/model_tree_view.h"

namespace qs::app {
namespace {
constexpr int kMaxRecent = 8;
}

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      models_(new ModelController(this)),
      tree_(new widgets::ModelTreeView),
      summary_(new widgets::ModelSummaryView),
      inspector_(new widgets::LayerInspector),
      pages_(new QTabWidget),
      device_label_(new QLabel) {
  setWindowTitle(tr("QuantScope"));
  pages_->setDocumentMode(true);
  pages_->addTab(summary_, tr("Summary"));
  pages_->addTab(inspector_, tr("Inspector"));
  setCentralWidget(pages_);
  connect(tree_, &widgets::ModelTreeView::linear_selected, this, &MainWindow::inspect);
  auto* dock = new QDockWidget(tr("Model"), this);
  dock->setObjectName("ModelDock");
  dock->setWidget(tree_);
  addDockWidget(Qt::LeftDockWidgetArea, dock);

  device_label_->setText(torch::cuda::is_available() ? tr("CUDA: %1 device(s)").arg(torch::cuda::device_count())
                                                     : tr("CPU only (no CUDA device)"));
  statusBar()->addPermanentWidget(device_label_);
  create_actions();

  connect(models_, &ModelController::load_started, this, [this](const QString& path) {
    statusBar()->showMessage(tr("Loading %1…").arg(path));
    QApplication::setOverrideCursor(Qt::BusyCursor);
  });
  connect(models_, &ModelController::model_loaded, this, [this](const widgets::ModelOutline& o) {
    QApplication::restoreOverrideCursor();
    tree_->set_outline(o);
    summary_->set_outline(o);
    setWindowTitle(tr("%1 — QuantScope").arg(QFileInfo(o.path).fileName()));
    statusBar()->showMessage(tr("Loaded %1").arg(o.path), 5000);
    remember_recent(o.path);
    if (!o.warning.isEmpty()) {
      auto* box =
          new QMessageBox(QMessageBox::Warning, tr("Project opened with a warning"), o.warning, QMessageBox::Ok, this);
      box->setAttribute(Qt::WA_DeleteOnClose);
      box->open();
    }
  });
  connect(models_, &ModelController::load_failed, this, [this](const QString& path, const QString& msg) {
    QApplication::restoreOverrideCursor();
    statusBar()->showMessage(tr("Could not open %1").arg(path), 5000);
    auto* box = new QMessageBox(QMessageBox::Critical, tr("Could not open model"), msg, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  });

  QSettings s;
  restoreGeometry(s.value("window/geometry").toByteArray());
  restoreState(s.value("window/state").toByteArray());
  if (!s.contains("window/geometry")) {
    resize(1200, 760);
    resizeDocks({dock}, {480}, Qt::Horizontal);
  }
}

MainWindow::~MainWindow() = default;

void MainWindow::create_actions() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(tr("&Open Model…"), this, [this] {
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open model"), QString(),
        tr("Checkpoints and projects (*.gguf *.safetensors config.json *.qsproj);;All files (*)"));
    if (path.isEmpty()) return;
    // An HF directory is opened through its config.json or a shard inside it.
    const QFileInfo fi(path);
    open_model(fi.fileName() == "config.json" ? fi.absolutePath() : path);
  });
  open->setShortcut(QKeySequence::Open);
  QAction* open_dir = file->addAction(tr("Open Model &Directory…"), this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open Hugging Face model directory"));
    if (!dir.isEmpty()) open_model(dir);
  });
  open_dir->setShortcut(QKeySequence(tr("Ctrl+Shift+O")));
  QAction* open_project = file->addAction(tr("Open &Project…"), this, [this] {
    const QString path =
        QFileDialog::getOpenFileName(this, tr("Open project"), QString(), tr("QuantScope projects (*.qsproj)"));
    if (!path.isEmpty()) open_model(path);
  });
  open_project->setShortcut(QKeySequence(tr("Ctrl+Shift+P")));
  recent_menu_ = file->addMenu(tr("Open &Recent"));
  update_recent_menu();
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  QAction* about = help->addAction(tr("&About QuantScope"), this, [this] {
    QMessageBox::about(this, tr("About QuantScope"),
                       tr("<b>QuantScope</b> %1<br>A workbench for post-training quantization of "
                          "large language models.")
                           .arg(QApplication::applicationVersion()));
  });
  about->setShortcut(QKeySequence::HelpContents);
}

void MainWindow::open_model(const QString& path) { models_->open(path); }

void MainWindow::select_layer(const QString& name) {
  if (!tree_->select(name)) inspect(name);
}

void MainWindow::show_inspector_tab(const QString& tab) {
  const QStringList names = {"spectrum", "error-map", "outliers"};
  if (names.contains(tab)) inspector_->tabs()->setCurrentIndex(static_cast<int>(names.indexOf(tab)));
}

void MainWindow::inspect(const QString& name) {
  const auto& inspections = models_->outline().inspections;
  if (auto it = inspections.find(name); it != inspections.end()) {
    inspector_->set_inspection(*it);
  } else {
    inspector_->show_message(models_->outline().project_path.isEmpty()
                                 ? tr("No analysis for this layer yet: run a method on it, or open a project "
                                      "that holds one.")
                                 : tr("The project holds no analysis for this layer (kept in FP or not run)."),
                             name);
  }
  pages_->setCurrentWidget(inspector_);
}

void MainWindow::remember_recent(const QString& path) {
  QSettings s;
  QStringList recent = s.value("recent/models").toStringList();
  recent.removeAll(path);
  recent.prepend(path);
  while (recent.size() > kMaxRecent) recent.removeLast();
  s.setValue("recent/models", recent);
  update_recent_menu();
}

void MainWindow::update_recent_menu() {
  recent_menu_->clear();
  const QStringList recent = QSettings().value("recent/models").toStringList();
  for (const QString& path : recent) recent_menu_->addAction(path, this, [this, path] { open_model(path); });
  recent_menu_->setEnabled(!recent.isEmpty());
}

void MainWindow::closeEvent(QCloseEvent* e) {
  QSettings s;
  s.setValue("window/geometry", saveGeometry());
  s.setValue("window/state", saveState());
  e->accept();
}

}  // namespace qs::app
