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

 Q_SIGNALS:
  void linear_selected(const QString& name);

 private:
  void apply_filter(const QString& text);

  QLineEdit* filter_;
  QTreeWidget* tree_;
};

}  // namespace qs::widgets
