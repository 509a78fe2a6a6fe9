#include "app/gui/layer_config.h"

#include <QUndoCommand>
#include <QUndoStack>

namespace qs::app {

class SetLayersCommand : public QUndoCommand {
 public:
  SetLayersCommand(LayerConfig* config, LayerConfig::Settings before, LayerConfig::Settings after, const QString& text)
      : QUndoCommand(text), config_(config), before_(std::move(before)), after_(std::move(after)) {}
  void redo() override { config_->assign(after_); }
  void undo() override { config_->assign(before_); }

 private:
  LayerConfig* config_;
  LayerConfig::Settings before_;
  LayerConfig::Settings after_;
};

LayerConfig::LayerConfig(QObject* parent) : QObject(parent), stack_(new QUndoStack(this)) {}

QMap<QString, QString> LayerConfig::labels() const {
  QMap<QString, QString> out;
  for (auto it = overrides_.begin(); it != overrides_.end(); ++it) out.insert(it.key(), it->label());
  return out;
}

void LayerConfig::set(const QStringList& names, const std::optional<widgets::LayerSetting>& setting) {
  Settings before;
  Settings after;
  for (const auto& name : names) {
    const auto it = overrides_.constFind(name);
    const auto old = it == overrides_.constEnd() ? std::nullopt : std::optional(*it);
    if (old == setting) continue;
    before.insert(name, old);
    after.insert(name, setting);
  }
  if (after.isEmpty()) return;
  const QString what = after.size() == 1 ? after.firstKey().section('.', -3) : tr("%n layers", "", int(after.size()));
  const QString text = setting ? tr("Set %1 to %2").arg(what, setting->label()) : tr("Reset %1 to the default").arg(what);
  stack_->push(new SetLayersCommand(this, std::move(before), std::move(after), text));
}

void LayerConfig::reset() {
  stack_->clear();
  overrides_.clear();
  Q_EMIT changed();
}

void LayerConfig::assign(const Settings& settings) {
  for (auto it = settings.begin(); it != settings.end(); ++it) {
    if (*it)
      overrides_.insert(it.key(), **it);
    else
      overrides_.remove(it.key());
  }
  Q_EMIT changed();
}

}  // namespace qs::app
