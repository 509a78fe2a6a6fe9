#pragma once
// The Issues dock: every error and warning the workbench met, newest last,
// with the file and field the message names; an entry that names a linear
// offers "Go to layer" (double-click or the context menu).

#include <QDateTime>
#include <QString>
#include <QWidget>

class QTreeWidget;

namespace qs::widgets {

struct Issue {
  enum class Severity { Warning, Error };
  Severity severity = Severity::Error;
  QString source;   // what the user was doing: "Open", "Run", "Preview", "Autosave"
  QString message;  // as the core said it, naming file and field
  QString layer;    // full linear name when the message names one; empty otherwise
  QDateTime when = QDateTime::currentDateTime();
};

class IssuesView : public QWidget {
  Q_OBJECT
 public:
  explicit IssuesView(QWidget* parent = nullptr);
  // An issue already listed (same source, message and layer) moves to the end with the new time.
  void add(const Issue& issue);
  void clear();
  int count() const;
  QString message(int row) const;
  QString layer(int row) const;

 Q_SIGNALS:
  void go_to_layer(const QString& name);
  void count_changed(int count);

 private:
  QTreeWidget* list_;
};

// The first linear named in `message` ("model.layers.3.mlp.up_proj", "lm_head"), or empty.
QString layer_named_in(const QString& message);

}  // namespace qs::widgets
