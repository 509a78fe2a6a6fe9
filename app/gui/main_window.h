#pragma once
// The workbench window: menus, the model dock, the centre pages (summary and
// layer inspector) and the status bar. Model state lives in ModelController; this class only wires views to it.

#include <QMainWindow>
#include <filesystem>
#include <memory>

#include "app/gui/presets.h"

namespace qs::widgets {
struct ModelOutline;
class IssuesView;
class CompareView;
class KernelSpeedView;
class LayerInspector;
class MethodPanel;
class RunView;
class ModelTreeView;
class ModelSummaryView;
}  // namespace qs::widgets

class QAction;
class QDockWidget;
class QElapsedTimer;
class QLabel;
class QMenu;
class QTabWidget;

namespace qs::app {

class CheckpointExportDialog;
class CompareController;
class KernelBenchController;
class LayerConfig;
class LayerPreviewController;
class ModelController;
class RunController;
class Session;
struct RunOutcome;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  ModelController* models() const { return models_; }
  RunController* runs() const { return runs_; }
  widgets::MethodPanel* method_panel() const { return method_panel_; }
  // Opens a model off the GUI thread (after offering to save unsaved results); a
  // failure is shown in a window-modal dialog and leaves the open model as it was.
  void open_model(const QString& path);
  // Shows the analyses of `name` in the inspector: the run's or the project's
  // when there are any, else an RTN preview computed off the GUI thread.
  void inspect(const QString& name);
  // Gives the layers selected in the model tree the method panel's method and
  // grid (Edit > Apply to Selected Layers, Ctrl+Return), or the default again.
  void apply_to_selection();
  void reset_selection();
  LayerConfig* layer_config() const { return layer_config_; }
  LayerPreviewController* preview() const { return preview_; }
  widgets::ModelTreeView* tree() const { return tree_; }
  widgets::LayerInspector* inspector() const { return inspector_; }
  // Selects `name` in the model tree (which inspects it).
  void select_layer(const QString& name);
  // "spectrum", "error-map", "outliers", "histogram" or "compare".
  void show_inspector_tab(const QString& tab);
  // Runs the method panel's settings on the open model (Run > Run, F5).
  void start_run();
  // Trains the method panel's "then" refinement over the last run's model or
  // the opened project's or checkpoint's (Run > Refine Quantized Model,
  // Shift+F5). A checkpoint's targets come from `fp_model` or, when empty,
  // from the FP model it records; when it records none or that one moved,
  // the user is asked for it.
  void start_refine(const QString& fp_model = {});
  // Times the packed kernels on the open model's linear shapes (Run > Benchmark Kernels, Ctrl+K).
  void start_kernel_bench();
  widgets::KernelSpeedView* kernel_view() const { return kernel_view_; }
  KernelBenchController* kernel_bench() const { return kernel_bench_; }
  // Writes the session (the last run's results, or the opened project) to
  // `path` (File > Save Project / Save Project As); a failure is shown in a dialog.
  bool save_project(const QString& path);
  Session* session() const { return session_; }
  // Reads the built-in and the user's presets into the method dock; a user
  // preset that does not parse is reported in the Issues dock.
  void reload_presets();
  // Applies Edit > Preferences (autosave interval, torch threads).
  void apply_preferences();
  void apply_preset(int index);
  const QVector<Preset>& presets() const { return presets_; }
  // Offers to reopen what a session that did not close cleanly autosaved.
  void offer_recovery();
  // Adds an entry to the Issues dock (and shows it); `source` says what the
  // user was doing, the message names the file, field or layer.
  void report_issue(const QString& source, const QString& message, bool error = true);
  widgets::IssuesView* issues() const { return issues_; }
  // File > Export…: a dialog over core/checkpoint for the last run's model or the
  // opened project's; nullptr (and a status message) when there is nothing quantized.
  CheckpointExportDialog* open_export_dialog();
  // Runs the Compare tab's ticked methods on the inspected linear.
  void start_compare();
  widgets::CompareView* compare_view() const { return compare_view_; }
  CompareController* compare() const { return compare_; }

 protected:
  void closeEvent(QCloseEvent* e) override;

 private:
  void create_actions();
  void update_recent_menu();
  void remember_recent(const QString& path);
  void run_finished(const std::shared_ptr<const RunOutcome>& outcome);
  // The last run's results are in a file now: its journal goes.
  void results_written();
  void show_outline(const widgets::ModelOutline& outline);
  // Asks whether to save unsaved results; false when the user cancels.
  bool maybe_save();
  void save_or_save_as();
  void save_as();
  void update_actions();
  // The opened project or quantized checkpoint a refinement can start from;
  // empty when there is none.
  QString refinable_source() const;
  // Asks for the FP model `checkpoint` was quantized from; empty when the user cancels.
  QString ask_fp_model(const QString& checkpoint);

  ModelController* models_;
  RunController* runs_;
  widgets::MethodPanel* method_panel_;
  widgets::RunView* run_view_;
  LayerConfig* layer_config_;
  LayerPreviewController* preview_;
  Session* session_;
  widgets::IssuesView* issues_;
  widgets::CompareView* compare_view_;
  CompareController* compare_;
  QDockWidget* issues_dock_ = nullptr;
  QVector<Preset> presets_;
  QString inspected_;  // the linear the inspector shows or is waiting for
  // The last run's journal, removed once its results are written.
  std::filesystem::path unwritten_journal_;
  KernelBenchController* kernel_bench_;
  widgets::KernelSpeedView* kernel_view_;
  QAction* save_project_ = nullptr;
  QAction* save_project_as_ = nullptr;
  QAction* export_ = nullptr;
  QAction* refine_ = nullptr;
  widgets::ModelTreeView* tree_;
  widgets::ModelSummaryView* summary_;
  widgets::LayerInspector* inspector_;
  QTabWidget* pages_;
  QLabel* device_label_;
  QLabel* memory_label_;
  std::unique_ptr<QElapsedTimer> run_clock_;  // since the current run started, for the ETA
  QMenu* recent_menu_ = nullptr;
};

}  // namespace qs::app
