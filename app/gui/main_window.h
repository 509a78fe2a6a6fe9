#pragma once
// The workbench window: menus, the model dock, the centre pages (summary and
// layer inspector) and the status bar. Model state lives in ModelController; this class only wires views to it.

#include <QMainWindow>

namespace qs::widgets {
class LayerInspector;
class ModelTreeView;
class ModelSummaryView;
}  // namespace qs::widgets

class QLabel;
class QMenu;
class QTabWidget;

namespace qs::app {

class ModelController;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  ModelController* models() const { return models_; }
  // Opens a model off the GUI thread; a failure is shown in a window-modal dialog
  // and leaves the open model as it was.
  void open_model(const QString& path);
  // Shows the cached analyses of `name` in the inspector.
  void inspect(const QString& name);
  // Selects `name` in the model tree (which inspects it).
  void select_layer(const QString& name);
  // "spectrum", "error-map" or "outliers".
  void show_inspector_tab(const QString& tab);

 protected:
  void closeEvent(QCloseEvent* e) override;

 private:
  void create_actions();
  void update_recent_menu();
  void remember_recent(const QString& path);

  ModelController* models_;
  widgets::ModelTreeView* tree_;
  widgets::ModelSummaryView* summary_;
  widgets::LayerInspector* inspector_;
  QTabWidget* pages_;
  QLabel* device_label_;
  QMenu* recent_menu_ = nullptr;
};

}  // namespace qs::app
