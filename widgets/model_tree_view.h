#pragma once
// The model's blocks and their linears as a filterable tree: one row per
// linear with its shape and stored dtype.

#include <QWidget>

#include "widgets/model_outline.h"

class QLineEdit;
class QTreeWidget;

namespace qs::widgets {

class ModelTreeView : public QWidget {
  Q_OBJECT
 public:
  explicit ModelTreeView(QWidget* parent = nullptr);
  void set_outline(const ModelOutline& outline);
  void clear();
  // Makes the linear `name` current (emitting linear_selected); false when absent.
  bool select(const QString& name);
  // Rows shown after filtering (blocks with at least one matching linear).
  int visible_linear_count() const;
  // Full names of the selected linears; a selected block stands for all its linears.
  QStringList selected_linears() const;
  // Selects exactly these linears (a multi-selection, as the user makes with Ctrl/Shift).
  void select_linears(const QStringList& names);
  // Per-linear choices for the next run, by full name: shown in italics in the
  // Method column in place of what the last run used; linears not listed show that again.
  void set_planned(const QMap<QString, QString>& labels);
  // The Method column's text of `name` (empty when absent).
  QString method_text(const QString& name) const;

 Q_SIGNALS:
  void linear_selected(const QString& name);
  void selection_changed(int linears);

 private:
  void apply_filter(const QString& text);
  template <typename F>
  void for_each_linear(F&& f) const;

  QLineEdit* filter_;
  QTreeWidget* tree_;
};

}  // namespace qs::widgets
