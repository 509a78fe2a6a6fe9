#pragma once
// The per-layer configuration of the next run: the linears the user gave a
// method and grid of their own (the rest follow the method panel), each change
// one step on an undo stack (Edit > Undo/Redo).

#include <QMap>
#include <QObject>
#include <QStringList>
#include <optional>

#include "widgets/method_panel.h"

class QUndoStack;

namespace qs::app {

class LayerConfig : public QObject {
  Q_OBJECT
 public:
  explicit LayerConfig(QObject* parent = nullptr);

  QUndoStack* undo_stack() const { return stack_; }
  const QMap<QString, widgets::LayerSetting>& overrides() const { return overrides_; }
  // Labels of the overrides by name, as the model tree shows them.
  QMap<QString, QString> labels() const;
  // Gives `names` `setting`, or (nullopt) puts them back on the default: one
  // undo step, none when nothing would change.
  void set(const QStringList& names, const std::optional<widgets::LayerSetting>& setting);
  // A new model: no overrides and nothing to undo.
  void reset();

 Q_SIGNALS:
  void changed();

 private:
  friend class SetLayersCommand;
  using Settings = QMap<QString, std::optional<widgets::LayerSetting>>;
  void assign(const Settings& settings);

  QUndoStack* stack_;
  QMap<QString, widgets::LayerSetting> overrides_;
};

}  // namespace qs::app
