#include "app/gui/main_window.h"

#include <torch/cuda.h>

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QTimer>
#include <QToolBar>
#include <QUndoStack>
#include <algorithm>

#include "app/gui/checkpoint_export_dialog.h"
#include "app/gui/compare_controller.h"
#include "app/gui/kernel_bench_controller.h"
#include "app/gui/layer_config.h"
#include "app/gui/layer_preview.h"
#include "app/gui/method_infos.h"
#include "app/gui/model_controller.h"
#include "app/gui/preferences_dialog.h"
#include "app/gui/process_memory.h"
#include "app/gui/run_controller.h"
#include "app/gui/session.h"
#include "core/checkpoint/provenance.h"
#include "core/error.h"
#include "core/pipeline/quant_plan.h"
#include "core/pipeline/run_journal.h"
#include "core/text/tokenizer.h"
#include "widgets/compare_view.h"
#include "widgets/issues_view.h"
#include "widgets/kernel_speed_view.h"
#include "widgets/layer_inspector.h"
#include "widgets/method_panel.h"
#include "widgets/model_summary_view.h"
#include "widgets/model_tree_view.h"
#include "widgets/run_view.h"
#if QS_WITH_HDF5
#include "app/gui/project_outline.h"
#include "core/project/project_file.h"
#include "core/project/project_provenance.h"
#endif

namespace qs::app {
namespace {
constexpr int kMaxRecent = 8;
}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      models_(new ModelController(this)),
      runs_(new RunController(this)),
      method_panel_(new widgets::MethodPanel),
      run_view_(new widgets::RunView),
      layer_config_(new LayerConfig(this)),
      preview_(new LayerPreviewController(this)),
      session_(new Session(this)),
      issues_(new widgets::IssuesView),
      compare_view_(new widgets::CompareView),
      compare_(new CompareController(this)),
      kernel_bench_(new KernelBenchController(this)),
      kernel_view_(new widgets::KernelSpeedView),
      tree_(new widgets::ModelTreeView),
      summary_(new widgets::ModelSummaryView),
      inspector_(new widgets::LayerInspector),
      pages_(new QTabWidget),
      device_label_(new QLabel),
      memory_label_(new QLabel),
      run_clock_(std::make_unique<QElapsedTimer>()) {
  setWindowTitle(tr("QuantScope"));
  pages_->setDocumentMode(true);
  pages_->addTab(summary_, tr("Summary"));
  pages_->addTab(inspector_, tr("Inspector"));
  pages_->addTab(run_view_, tr("Run"));
  pages_->addTab(kernel_view_, tr("Kernels"));
  setCentralWidget(pages_);
  connect(tree_, &widgets::ModelTreeView::linear_selected, this, &MainWindow::inspect);
  auto* dock = new QDockWidget(tr("Model"), this);
  dock->setObjectName("ModelDock");
  dock->setWidget(tree_);
  addDockWidget(Qt::LeftDockWidgetArea, dock);
  auto* method_dock = new QDockWidget(tr("Method"), this);
  method_dock->setObjectName("MethodDock");
  method_dock->setWidget(method_panel_);
  addDockWidget(Qt::RightDockWidgetArea, method_dock);
  issues_dock_ = new QDockWidget(tr("Issues"), this);
  issues_dock_->setObjectName("IssuesDock");
  issues_dock_->setWidget(issues_);
  addDockWidget(Qt::BottomDockWidgetArea, issues_dock_);
  issues_dock_->hide();
  connect(issues_, &widgets::IssuesView::go_to_layer, this, &MainWindow::select_layer);
  method_panel_->set_methods(method_infos());
  method_panel_->set_refinements(refinement_infos());
  {
    QStringList names;
    for (const auto& m : method_infos())
      if (m.name != QLatin1String(pipeline::kKeepFp)) names.append(m.name);
    compare_view_->set_methods(names, {"rtn", "gptq", "awq"});
  }
  inspector_->tabs()->addTab(compare_view_, tr("Compare"));
  connect(compare_view_, &widgets::CompareView::compare_requested, this, &MainWindow::start_compare);
  connect(compare_view_, &widgets::CompareView::cancel_requested, compare_, &CompareController::cancel);
  connect(compare_, &CompareController::progress, compare_view_, &widgets::CompareView::set_running);
  connect(
      compare_, &CompareController::finished, this,
      [this](const QString&, const QVector<widgets::CompareEntry>& entries) { compare_view_->set_entries(entries); });
  connect(compare_, &CompareController::failed, this, [this](const QString& message, bool cancelled) {
    compare_view_->set_failed(message);
    if (!cancelled) report_issue(tr("Compare"), message);
  });
  {
    QSettings s;
    widgets::RunSettings rs;
    rs.method = s.value("run/method", "rtn").toString();
    rs.bits = s.value("run/bits", 4).toInt();
    rs.group = s.value("run/group", 128).toLongLong();
    rs.symmetric = s.value("run/symmetric", false).toBool();
    rs.calibration_path = s.value("run/calibration").toString();
    rs.eval_path = s.value("run/eval").toString();
    method_panel_->set_settings(rs);
  }
  connect(method_panel_, &widgets::MethodPanel::run_requested, this, &MainWindow::start_run);
  connect(method_panel_, &widgets::MethodPanel::preset_chosen, this, &MainWindow::apply_preset);
  connect(method_panel_, &widgets::MethodPanel::save_preset_requested, this, [this] {
    bool ok = false;
    const QString name = QInputDialog::getText(this, tr("Save preset"), tr("Name of the preset:"), QLineEdit::Normal,
                                               method_panel_->layer_setting().label(), &ok);
    if (!ok || name.trimmed().isEmpty()) return;
    try {
      const auto s = method_panel_->settings();
      const QString path =
          save_user_preset({name.trimmed(), {}, method_panel_->layer_setting(), s.then, s.then_params, {}, false});
      statusBar()->showMessage(tr("Saved preset %1 to %2").arg(name, path), 5000);
    } catch (const Error& e) {
      report_issue(tr("Presets"), QString::fromUtf8(e.what()));
    }
    reload_presets();
  });
  connect(method_panel_, &widgets::MethodPanel::apply_to_selection_requested, this, &MainWindow::apply_to_selection);
  connect(method_panel_, &widgets::MethodPanel::reset_selection_requested, this, &MainWindow::reset_selection);
  connect(layer_config_, &LayerConfig::changed, this, [this] {
    tree_->set_planned(layer_config_->labels());
    if (!inspected_.isEmpty() && !models_->outline().inspections.contains(inspected_)) inspect(inspected_);
  });
  connect(preview_, &LayerPreviewController::ready, this,
          [this](const QString& name, const widgets::LayerInspection& li) {
            if (name == inspected_ && !models_->outline().inspections.contains(name)) inspector_->set_inspection(li);
          });
  connect(preview_, &LayerPreviewController::failed, this, [this](const QString& name, const QString& message) {
    report_issue(tr("Preview"), message);
    if (name == inspected_) inspector_->show_message(tr("Could not analyse this layer: %1").arg(message), name);
  });
  connect(kernel_view_, &widgets::KernelSpeedView::run_requested, this, &MainWindow::start_kernel_bench);
  connect(kernel_bench_, &KernelBenchController::progress, kernel_view_, &widgets::KernelSpeedView::set_running);
  connect(kernel_bench_, &KernelBenchController::finished, kernel_view_, &widgets::KernelSpeedView::set_report);
  connect(kernel_bench_, &KernelBenchController::failed, kernel_view_, &widgets::KernelSpeedView::set_failed);
  connect(kernel_bench_, &KernelBenchController::failed, this,
          [this](const QString& message) { report_issue(tr("Kernels"), message); });
  connect(method_panel_, &widgets::MethodPanel::cancel_requested, runs_, &RunController::cancel);
  connect(runs_, &RunController::started, this, [this](int blocks, const QString& title, bool refinement_only) {
    run_clock_->start();
    run_view_->begin(blocks, title, refinement_only);
    pages_->setCurrentWidget(run_view_);
  });
  connect(runs_, &RunController::fp_perplexity, run_view_, &widgets::RunView::set_fp_perplexity);
  connect(runs_, &RunController::block_done, run_view_, &widgets::RunView::add_block);
  connect(runs_, &RunController::log_line, run_view_, &widgets::RunView::append_log);
  connect(runs_, &RunController::loss_point, run_view_, &widgets::RunView::add_loss_point);
  connect(runs_, &RunController::progress_changed, this, [this](const QString& stage, qint64 done, qint64 total) {
    if (stage == QLatin1String("rilq")) {  // the bound, as early stopping may end it sooner
      statusBar()->showMessage(tr("RILQ: sequence %1 of at most %2").arg(done).arg(total));
      return;
    }
    if (stage != QLatin1String("quantize")) return;
    QString text = tr("Quantizing: block %1 of %2").arg(done).arg(total);
    if (done > 0 && done < total && run_clock_->isValid()) {
      const qint64 left_s = run_clock_->elapsed() * (total - done) / done / 1000;
      text += tr(" · about %1 min %2 s left").arg(left_s / 60).arg(left_s % 60, 2, 10, QChar('0'));
    }
    statusBar()->showMessage(text);
  });
  connect(runs_, &RunController::finished, this, &MainWindow::run_finished);
  connect(runs_, &RunController::failed, this, [this](const QString& message, bool cancelled) {
    method_panel_->set_running(false);
    run_view_->finish(cancelled ? message : tr("Failed: %1").arg(message));
    statusBar()->showMessage(cancelled ? message : tr("The run failed"), 8000);
    if (cancelled) return;
    report_issue(tr("Run"), message);
    auto* box = new QMessageBox(QMessageBox::Critical, tr("Run failed"), message, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  });

  device_label_->setText(torch::cuda::is_available() ? tr("CUDA: %1 device(s)").arg(torch::cuda::device_count())
                                                     : tr("CPU only (no CUDA device)"));
  statusBar()->addPermanentWidget(memory_label_);
  statusBar()->addPermanentWidget(device_label_);
  auto* memory_timer = new QTimer(this);
  auto show_memory = [this] {
    const QString gpu = gpu_memory_text(read_gpu_memory());
    memory_label_->setText(memory_text(read_process_memory()) +
                           (gpu.isEmpty() ? QString() : QStringLiteral(" · ") + gpu));
  };
  connect(memory_timer, &QTimer::timeout, this, show_memory);
  memory_timer->start(2000);
  show_memory();
  create_actions();
  update_actions();
  reload_presets();
  apply_preferences();

  connect(models_, &ModelController::load_started, this, [this](const QString& path) {
    statusBar()->showMessage(tr("Loading %1…").arg(path));
    QApplication::setOverrideCursor(Qt::BusyCursor);
  });
  connect(models_, &ModelController::model_loaded, this, [this](const widgets::ModelOutline& o) {
    QApplication::restoreOverrideCursor();
    layer_config_->reset();
    preview_->clear();
    preview_->set_fp_model(o.fp_model.toStdString());
    inspected_.clear();
    show_outline(o);
    // Runs start from a model; a project's weights are already quantized.
    method_panel_->set_model_available(models_->model() && o.project_path.isEmpty());
    session_->set_opened(o.project_path);
    update_actions();
    setWindowTitle(tr("%1[*] — QuantScope").arg(QFileInfo(o.path).fileName()));
    statusBar()->showMessage(tr("Loaded %1").arg(o.path), 5000);
    remember_recent(o.path);
    if (!o.warning.isEmpty()) {
      report_issue(tr("Open"), o.warning, false);
      auto* box = new QMessageBox(QMessageBox::Warning, tr("Opened with a warning"), o.warning, QMessageBox::Ok, this);
      box->setAttribute(Qt::WA_DeleteOnClose);
      box->open();
    }
  });
  connect(models_, &ModelController::load_failed, this, [this](const QString& path, const QString& msg) {
    QApplication::restoreOverrideCursor();
    statusBar()->showMessage(tr("Could not open %1").arg(path), 5000);
    report_issue(tr("Open"), msg);
    auto* box = new QMessageBox(QMessageBox::Critical, tr("Could not open model"), msg, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  });

  connect(session_, &Session::dirty_changed, this, &QWidget::setWindowModified);
  connect(session_, &Session::autosaved, this, [this](const QString& path) {
    statusBar()->showMessage(tr("Autosaved the unsaved results to %1").arg(path), 4000);
    if (session_->results_in_a_file()) results_written();
  });
  connect(session_, &Session::autosave_failed, this,
          [this](const QString& message) { report_issue(tr("Autosave"), message); });

  QSettings s;
  restoreGeometry(s.value("window/geometry").toByteArray());
  restoreState(s.value("window/state").toByteArray());
  if (!s.contains("window/geometry")) {
    resize(1200, 760);
    // Dock sizes only take once the window is laid out at its final size.
    QTimer::singleShot(0, this, [this, dock] { resizeDocks({dock}, {440}, Qt::Horizontal); });
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
  save_project_ = file->addAction(tr("&Save Project"), this, &MainWindow::save_or_save_as);
  save_project_->setShortcut(QKeySequence::Save);
  save_project_->setEnabled(false);
  connect(session_, &Session::dirty_changed, this, &MainWindow::update_actions);
  save_project_as_ = file->addAction(tr("Save Project &As…"), this, &MainWindow::save_as);
  save_project_as_->setShortcut(QKeySequence::SaveAs);
  save_project_as_->setEnabled(false);
  file->addSeparator();
  QAction* export_action = export_ = file->addAction(tr("&Export Checkpoint…"), this, [this] { open_export_dialog(); });
  export_action->setShortcut(QKeySequence(tr("Ctrl+E")));
  export_action->setEnabled(false);
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  QAction* undo = layer_config_->undo_stack()->createUndoAction(this, tr("&Undo"));
  undo->setShortcut(QKeySequence::Undo);
  edit->addAction(undo);
  QAction* redo = layer_config_->undo_stack()->createRedoAction(this, tr("&Redo"));
  redo->setShortcut(QKeySequence::Redo);
  edit->addAction(redo);
  edit->addSeparator();
  QAction* apply = edit->addAction(tr("&Apply Method to Selected Layers"), this, &MainWindow::apply_to_selection);
  apply->setShortcut(QKeySequence(tr("Ctrl+Return")));
  QAction* reset = edit->addAction(tr("Re&set Selected Layers to Default"), this, &MainWindow::reset_selection);
  reset->setShortcut(QKeySequence(tr("Ctrl+Backspace")));
  edit->addSeparator();
  QAction* prefs = edit->addAction(tr("&Preferences…"), this, [this] {
    auto* dialog = new PreferencesDialog(Preferences::load(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &PreferencesDialog::clear_recent_requested, this, [this] {
      QSettings().remove("recent/models");
      update_recent_menu();
    });
    connect(dialog, &QDialog::accepted, this, [this, dialog] {
      dialog->preferences().save();
      apply_preferences();
    });
    dialog->open();
  });
  // Not every platform theme defines the standard key; Ctrl+, is the common one.
  prefs->setShortcut(QKeySequence(QKeySequence::Preferences).isEmpty() ? QKeySequence(tr("Ctrl+,"))
                                                                       : QKeySequence(QKeySequence::Preferences));
  prefs->setMenuRole(QAction::PreferencesRole);

  QMenu* run = menuBar()->addMenu(tr("&Run"));
  QAction* start = run->addAction(tr("&Run Method"), this, &MainWindow::start_run);
  start->setShortcut(QKeySequence(Qt::Key_F5));
  QAction* refine = refine_ = run->addAction(tr("Re&fine Quantized Model"), this, [this] { start_refine(); });
  refine->setObjectName("refineAction");
  refine->setShortcut(QKeySequence(tr("Shift+F5")));
  refine->setToolTip(
      tr("Train the Method dock's “Then” refinement (RILQ) over the last run's model or the opened "
         "project's or checkpoint's, without quantizing again"));
  QAction* pause = run->addAction(tr("&Pause Run"));
  pause->setCheckable(true);
  pause->setShortcut(QKeySequence(Qt::Key_F6));
  pause->setEnabled(false);
  connect(pause, &QAction::toggled, runs_, &RunController::set_paused);
  QAction* cancel = run->addAction(tr("&Cancel Run"), runs_, &RunController::cancel);
  cancel->setShortcut(QKeySequence(tr("Ctrl+.")));
  cancel->setEnabled(false);
  connect(runs_, &RunController::started, this, [pause, cancel, start, refine] {
    pause->setEnabled(true);
    cancel->setEnabled(true);
    start->setEnabled(false);
    refine->setEnabled(false);
  });
  auto run_ended = [this, pause, cancel, start] {
    pause->setChecked(false);
    pause->setEnabled(false);
    cancel->setEnabled(false);
    start->setEnabled(true);
    update_actions();
  };
  connect(runs_, &RunController::finished, this, run_ended);
  connect(runs_, &RunController::failed, this, run_ended);
  connect(runs_, &RunController::paused_changed, this, [this, pause](bool paused) {
    pause->setChecked(paused);
    pause->setText(paused ? tr("&Resume Run") : tr("&Pause Run"));
    if (paused) statusBar()->showMessage(tr("Paused: the run waits at its next step (F6 resumes, Ctrl+. cancels)"));
    run_view_->append_log(paused ? tr("Paused.") : tr("Resumed."));
  });
  run->addSeparator();
  QAction* bench = run->addAction(tr("Benchmark &Kernels"), this, &MainWindow::start_kernel_bench);
  bench->setShortcut(QKeySequence(tr("Ctrl+K")));

  QToolBar* tools = addToolBar(tr("Main"));
  tools->setObjectName("MainToolBar");
  tools->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  open->setIcon(style()->standardIcon(QStyle::SP_DialogOpenButton));
  save_project_->setIcon(style()->standardIcon(QStyle::SP_DialogSaveButton));
  start->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
  pause->setIcon(style()->standardIcon(QStyle::SP_MediaPause));
  cancel->setIcon(style()->standardIcon(QStyle::SP_MediaStop));
  bench->setIcon(style()->standardIcon(QStyle::SP_ComputerIcon));
  refine->setIcon(style()->standardIcon(QStyle::SP_MediaSeekForward));
  export_action->setIcon(style()->standardIcon(QStyle::SP_DriveHDIcon));
  for (QAction* a : {open, save_project_, export_action, start, refine, pause, cancel, bench}) {
    if (a == start || a == bench) tools->addSeparator();
    tools->addAction(a);
  }

  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (auto* dock : findChildren<QDockWidget*>()) view->addAction(dock->toggleViewAction());

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  QAction* about = help->addAction(tr("&About QuantScope"), this, [this] {
    QMessageBox::about(this, tr("About QuantScope"),
                       tr("<b>QuantScope</b> %1<br>A workbench for post-training quantization of "
                          "large language models.")
                           .arg(QApplication::applicationVersion()));
  });
  about->setShortcut(QKeySequence::HelpContents);
}

void MainWindow::open_model(const QString& path) {
  if (maybe_save()) models_->open(path);
}

void MainWindow::start_run() {
  if (runs_->busy()) return;
  const auto settings = method_panel_->settings();
  if (!models_->model() || !models_->outline().project_path.isEmpty()) {
    statusBar()->showMessage(tr("Open a model to run a method on it"), 5000);
    return;
  }
  if (settings.calibration_path.isEmpty()) {
    statusBar()->showMessage(tr("Choose a calibration text in the Method dock"), 5000);
    return;
  }
  QSettings s;
  s.setValue("run/method", settings.method);
  s.setValue("run/bits", settings.bits);
  s.setValue("run/group", settings.group);
  s.setValue("run/symmetric", settings.symmetric);
  s.setValue("run/calibration", settings.calibration_path);
  s.setValue("run/eval", settings.eval_path);
  method_panel_->set_running(true);
  auto with_layers = settings;
  with_layers.layers = layer_config_->overrides();
  runs_->start(models_->model(), models_->outline().path, with_layers);
}

void MainWindow::start_refine(const QString& fp_model) {
  if (runs_->busy()) return;
  const auto settings = method_panel_->settings();
  const auto model = models_->model();
  const auto last = session_->has_results() ? runs_->last_outcome() : nullptr;
  const QString source = last ? QString() : refinable_source();
  if (!last && source.isEmpty()) {
    statusBar()->showMessage(tr("Nothing quantized to refine: run a method first, or open a project or a quantized "
                                "checkpoint"),
                             8000);
    return;
  }
  if (settings.then.isEmpty()) {
    statusBar()->showMessage(tr("Choose a refinement under “Then, over the whole model” in the Method dock"), 5000);
    return;
  }
  if (settings.calibration_path.isEmpty()) {
    statusBar()->showMessage(tr("Choose a calibration text in the Method dock"), 5000);
    return;
  }
  // A checkpoint's targets come from the model it was quantized from: the one
  // it records, else (none, moved or changed) the user names it.
  QString fp_path = fp_model;
  if (!source.isEmpty() && !source.endsWith(QStringLiteral(".qsproj")) && fp_path.isEmpty()) {
    QString problem;
    try {
      const std::string path = source.toStdString();
      problem = QString::fromStdString(checkpoint::recorded_fp_model_problem(path, checkpoint::read_provenance(path)));
    } catch (const Error& e) {
      report_issue(tr("Refine"), QString::fromUtf8(e.what()));
      return;
    }
    if (!problem.isEmpty()) {
      statusBar()->showMessage(problem);
      fp_path = ask_fp_model(source);
      if (fp_path.isEmpty()) return;
    }
  }
  method_panel_->set_running(true);
  runs_->start_refine(last, source, fp_path, model, settings);
}

QString MainWindow::ask_fp_model(const QString& checkpoint) {
  const QString title = tr("Choose the FP model %1 was quantized from").arg(QFileInfo(checkpoint).fileName());
  QString path = QFileDialog::getOpenFileName(this, title, QFileInfo(checkpoint).absolutePath(),
                                              tr("Models (*.gguf *.safetensors config.json)"));
  // A Hugging Face model is its directory; its config.json is how a file dialog picks it.
  if (QFileInfo(path).fileName() == QLatin1String("config.json")) path = QFileInfo(path).absolutePath();
  return path;
}

QString MainWindow::refinable_source() const {
  const auto& outline = models_->outline();
  if (!outline.project_path.isEmpty()) return outline.project_path;
  const auto model = models_->model();
  return model && !model->quantized.empty() ? outline.path : QString();
}

void MainWindow::start_kernel_bench() {
  pages_->setCurrentWidget(kernel_view_);
  if (kernel_bench_->busy()) return;
  if (!models_->model()) {
    kernel_view_->set_failed(tr("open a model first: the benchmark times its linear shapes"));
    return;
  }
  kernel_view_->set_running(tr("starting"));
  kernel_bench_->start(models_->model()->config);
}

void MainWindow::run_finished(const std::shared_ptr<const RunOutcome>& outcome) {
  method_panel_->set_running(false);
  const auto& r = outcome->result;
  // A refinement over a model quantized before has no block stage.
  QString status =
      r.blocks.empty() && !r.refinements.empty()
          ? tr("Done: %1 refined %2 linears in %3 s")
                .arg(QString::fromStdString(r.refinements.back().method))
                .arg(r.refinements.back().linears)
                .arg(r.seconds, 0, 'f', 1)
          : tr("Done: %1 linears quantized in %2 s")
                .arg(std::count_if(r.layers.begin(), r.layers.end(), [](const auto& l) { return l.record != nullptr; }))
                .arg(r.seconds, 0, 'f', 1);
  if (outcome->fp_perplexity > 0)
    status += tr(", live perplexity %1 (FP %2), KL to FP %3 nats/token")
                  .arg(outcome->perplexity, 0, 'f', 3)
                  .arg(outcome->fp_perplexity, 0, 'f', 3)
                  .arg(outcome->mean_kl, 0, 'g', 3);
  run_view_->finish(status);
  statusBar()->showMessage(status, 8000);
#if QS_WITH_HDF5
  auto outline = models_->outline();
  outline.inspections.clear();
  apply_project(outcome->project, outline);
  models_->update_outline(outline);
  show_outline(outline);
  session_->set_results(std::make_shared<const project::Project>(outcome->project));
  update_actions();
  // Until the results are in a file, a crash would lose them but for the
  // run's journal; autosaving now lets it go.
  // A refinement has none: the journal of the run it refined goes when the
  // refined results are written.
  if (!outcome->journal.empty()) unwritten_journal_ = outcome->journal;
  if (session_->autosave_enabled()) session_->autosave();
#else
  unwritten_journal_ = outcome->journal;
  results_written();
#endif
}

void MainWindow::results_written() {
  if (unwritten_journal_.empty()) return;
  try {
    pipeline::remove_journal(unwritten_journal_);
  } catch (const Error& e) {
    report_issue(tr("Run journal"), QString::fromUtf8(e.what()));
  }
  unwritten_journal_.clear();
}

bool MainWindow::save_project(const QString& path) {
  QString error;
  QApplication::setOverrideCursor(Qt::BusyCursor);
  const bool ok = session_->save(path, &error);
  QApplication::restoreOverrideCursor();
  if (!ok) {
    report_issue(tr("Save"), error);
    auto* box = new QMessageBox(QMessageBox::Critical, tr("Could not save the project"), error, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    return false;
  }
  statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
  remember_recent(path);
  results_written();
  return true;
}

void MainWindow::update_actions() {
  save_project_->setEnabled(session_->dirty());
  save_project_as_->setEnabled(session_->has_results() || !session_->path().isEmpty());
  export_->setEnabled(session_->has_results() || (models_->model() && !models_->model()->quantized.empty()));
  refine_->setEnabled(!runs_->busy() && (session_->has_results() || !refinable_source().isEmpty()));
}

void MainWindow::save_or_save_as() {
  const QString path = session_->path();
  if (path.isEmpty())
    save_as();
  else if (session_->dirty())
    save_project(path);
}

void MainWindow::save_as() {
  const QString path =
      QFileDialog::getSaveFileName(this, tr("Save project"), session_->path(), tr("QuantScope projects (*.qsproj)"));
  if (!path.isEmpty()) save_project(path.endsWith(".qsproj") ? path : path + ".qsproj");
}

bool MainWindow::maybe_save() {
  if (!session_->dirty()) return true;
  const auto answer = QMessageBox::question(
      this, tr("Unsaved results"), tr("The last run's results are not saved. Save them as a project?"),
      QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
  if (answer == QMessageBox::Cancel) return false;
  if (answer == QMessageBox::Discard) return true;
  save_or_save_as();
  return !session_->dirty();
}

void MainWindow::apply_preferences() {
  const auto p = Preferences::load();
  session_->set_autosave_minutes(p.autosave_minutes);
  if (p.torch_threads > 0) torch::set_num_threads(p.torch_threads);
}

void MainWindow::reload_presets() {
  QStringList problems;
  presets_ = load_presets(&problems);
  QStringList names, descriptions;
  for (const auto& p : presets_) {
    names.append(p.builtin ? p.name : tr("%1 (yours)").arg(p.name));
    descriptions.append(p.description);
  }
  method_panel_->set_presets(names, descriptions);
  for (const auto& problem : problems) report_issue(tr("Presets"), problem, false);
}

void MainWindow::apply_preset(int index) {
  if (index < 0 || index >= presets_.size()) return;
  const auto& p = presets_[index].setting;
  auto s = method_panel_->settings();
  s.method = p.method;
  s.bits = p.bits;
  s.group = p.group;
  s.symmetric = p.symmetric;
  s.params = p.params;
  s.then = presets_[index].then;
  s.then_params = presets_[index].then_params;
  method_panel_->set_settings(s);
  statusBar()->showMessage(tr("Preset: %1").arg(presets_[index].name), 4000);
}

void MainWindow::report_issue(const QString& source, const QString& message, bool error) {
  widgets::Issue issue;
  issue.severity = error ? widgets::Issue::Severity::Error : widgets::Issue::Severity::Warning;
  issue.source = source;
  issue.message = message;
  issue.layer = widgets::layer_named_in(message);
  issues_->add(issue);
  issues_dock_->show();
}

void MainWindow::offer_recovery() {
  const auto files = Session::recoverable();
  if (files.isEmpty()) return;
  session_->offered_recovery(files);
  auto* box = new QMessageBox(
      QMessageBox::Question, tr("Recover unsaved results?"),
      tr("QuantScope did not close cleanly last time. Its unsaved results were autosaved to %1 (%2). Open them?")
          .arg(files.first(), QFileInfo(files.first()).lastModified().toString()),
      QMessageBox::Open | QMessageBox::Discard, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  connect(box, &QMessageBox::finished, this, [this, file = files.first()](int result) {
    if (result == QMessageBox::Open) open_model(file);
  });
  box->open();
}

void MainWindow::select_layer(const QString& name) {
  if (!tree_->select(name)) inspect(name);
}

void MainWindow::show_inspector_tab(const QString& tab) {
  if (tab == QLatin1String("compare")) {
    inspector_->tabs()->setCurrentWidget(compare_view_);
    return;
  }
  const QStringList names = {"spectrum", "error-map", "outliers", "histogram"};
  if (names.contains(tab)) inspector_->tabs()->setCurrentIndex(static_cast<int>(names.indexOf(tab)));
}

void MainWindow::inspect(const QString& name) {
  inspected_ = name;
  if (!compare_->busy()) compare_view_->set_layer(name);
  const auto& inspections = models_->outline().inspections;
  if (auto it = inspections.find(name); it != inspections.end()) {
    inspector_->set_inspection(*it);
  } else if (const auto model = models_->model()) {
    const bool stored = model->quantized.count(name.toStdString()) != 0;
    const auto spec = spec_of(layer_config_->overrides().value(name, method_panel_->layer_setting()));
    if (stored && models_->outline().fp_model.isEmpty()) {
      const QString why =
          models_->outline().warning.isEmpty() ? tr("this checkpoint does not record it") : models_->outline().warning;
      inspector_->show_message(
          tr("%1 is stored quantized. Its analyses compare it with the FP model it was quantized from, but %2.")
              .arg(name, why),
          name);
    } else {
      inspector_->show_message(stored
                                   ? tr("Analysing %1 as stored, against its FP model…").arg(name)
                                   : tr("Analysing %1 under RTN %2…").arg(name, QString::fromStdString(spec.label())),
                               name);
      preview_->request(model, name, spec);
    }
  } else {
    inspector_->show_message(tr("The project holds no analysis for this layer (kept in FP or not run), and its "
                                "model could not be opened to compute one."),
                             name);
  }
  pages_->setCurrentWidget(inspector_);
}

CheckpointExportDialog* MainWindow::open_export_dialog() {
  ExportSource source;
  const auto outcome = runs_->last_outcome();
  const auto& outline = models_->outline();
  if (session_->has_results() && outcome) {
    source.decoder = outcome->decoder;
#if QS_WITH_HDF5
    // The run's model: after refining an opened project, the outline's path is the project's.
    source.tokenizer_source = text::tokenizer_source(outcome->project.model.path);
#else
    source.tokenizer_source = text::tokenizer_source(outline.path.toStdString());
#endif
#if QS_WITH_HDF5
    source.provenance = project::provenance_of(outcome->project, session_->path().toStdString());
#endif
  } else if (models_->model() && !models_->model()->quantized.empty()) {
    source.weights = models_->model();
    const auto& src = source.weights->source;
    source.tokenizer_source = text::tokenizer_source(src);
    source.project_path = outline.project_path;
  } else {
    statusBar()->showMessage(tr("Nothing to export yet: run a method, or open a project that holds quantized layers"),
                             6000);
    return nullptr;
  }
  QMap<QString, int> methods;
  int quantized = 0, total = 0;
  for (const auto& block : outline.blocks)
    for (const auto& row : block.linears) {
      ++total;
      if (row.method.isEmpty() || row.method == QLatin1String(pipeline::kKeepFp)) continue;
      ++quantized;
      ++methods[row.method];
    }
  QStringList mix;
  for (auto it = methods.begin(); it != methods.end(); ++it) mix.append(tr("%1 × %2").arg(it.value()).arg(it.key()));
  source.summary = tr("%1: %2 of %3 linears quantized (%4)")
                       .arg(QFileInfo(outline.path).fileName())
                       .arg(quantized)
                       .arg(total)
                       .arg(mix.join(", "));
  auto* dialog = new CheckpointExportDialog(std::move(source), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &CheckpointExportDialog::exported, this,
          [this](const QString&, const QString& report) { statusBar()->showMessage(report, 8000); });
  connect(dialog, &CheckpointExportDialog::failed, this,
          [this](const QString& message) { report_issue(tr("Export"), message); });
  dialog->open();
  return dialog;
}

void MainWindow::start_compare() {
  if (compare_->busy()) return;
  const auto settings = method_panel_->settings();
  if (inspected_.isEmpty())
    compare_view_->set_failed(tr("Select a linear in the Model dock first."));
  else if (!models_->model())
    compare_view_->set_failed(tr("Open a model, or a project whose model can be read, to compare methods on it."));
  else if (settings.calibration_path.isEmpty())
    compare_view_->set_failed(tr("Choose a calibration text in the Method dock."));
  else if (compare_view_->checked_methods().isEmpty())
    compare_view_->set_failed(tr("Tick at least one method."));
  else if (models_->model()->quantized.empty())
    compare_->start(
        {models_->model(), models_->outline().path, inspected_, settings, compare_view_->checked_methods()});
  // On a quantized checkpoint or a project, methods run on the FP model it was quantized from.
  else if (models_->outline().fp_model.isEmpty())
    compare_view_->set_failed(models_->outline().warning.isEmpty()
                                  ? tr("This checkpoint is quantized and records no FP model to compare methods on.")
                                  : models_->outline().warning);
  else
    compare_->start({nullptr, models_->outline().fp_model, inspected_, settings, compare_view_->checked_methods()});
}

void MainWindow::apply_to_selection() {
  const auto names = tree_->selected_linears();
  if (names.isEmpty()) {
    statusBar()->showMessage(tr("Select layers in the Model dock first (Ctrl/Shift-click, or a block)"), 5000);
    return;
  }
  layer_config_->set(names, method_panel_->layer_setting());
}

void MainWindow::reset_selection() { layer_config_->set(tree_->selected_linears(), std::nullopt); }

void MainWindow::show_outline(const widgets::ModelOutline& outline) {
  tree_->set_outline(outline);
  tree_->set_planned(layer_config_->labels());
  summary_->set_outline(outline);
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
  if (!maybe_save()) {
    e->ignore();
    return;
  }
  session_->close_cleanly();
  QSettings s;
  s.setValue("window/geometry", saveGeometry());
  s.setValue("window/state", saveState());
  e->accept();
}

}  // namespace qs::app
