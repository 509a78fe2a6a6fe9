#pragma once
// The centre page before a layer is picked: the checkpoint's facts as a
// two-column table, or a hint to open a model.

#include <QWidget>

#include "widgets/model_outline.h"

class QLabel;
class QTableWidget;

namespace qs::widgets {

class ModelSummaryView : public QWidget {
  Q_OBJECT
 public:
  explicit ModelSummaryView(QWidget* parent = nullptr);
  void set_outline(const ModelOutline& outline);
  void show_message(const QString& text);

 private:
  QLabel* title_;
  QTableWidget* facts_;
};

}  // namespace qs::widgets
