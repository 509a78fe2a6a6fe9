#pragma once
// Edit > Preferences: how often unsaved results are autosaved and how many
// CPU threads torch uses (the GUI thread keeps one core's worth of slack when
// fewer are given), kept in QSettings and applied at start.

#include <QDialog>

class QSpinBox;

namespace qs::app {

struct Preferences {
  int autosave_minutes = 3;  // 0: off
  int torch_threads = 0;     // 0: torch's default (all cores)

  static Preferences load();
  void save() const;
};

class PreferencesDialog : public QDialog {
  Q_OBJECT
 public:
  explicit PreferencesDialog(const Preferences& current, QWidget* parent = nullptr);
  Preferences preferences() const;

 Q_SIGNALS:
  void clear_recent_requested();

 private:
  QSpinBox* autosave_;
  QSpinBox* threads_;
};

}  // namespace qs::app
