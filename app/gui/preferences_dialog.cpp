#include "app/gui/preferences_dialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QThread>
#include <QVBoxLayout>

namespace qs::app {

Preferences Preferences::load() {
  QSettings s;
  Preferences p;
  p.autosave_minutes = s.value("prefs/autosave_minutes", p.autosave_minutes).toInt();
  p.torch_threads = s.value("prefs/torch_threads", p.torch_threads).toInt();
  return p;
}

void Preferences::save() const {
  QSettings s;
  s.setValue("prefs/autosave_minutes", autosave_minutes);
  s.setValue("prefs/torch_threads", torch_threads);
}

PreferencesDialog::PreferencesDialog(const Preferences& current, QWidget* parent)
    : QDialog(parent), autosave_(new QSpinBox(this)), threads_(new QSpinBox(this)) {
  setWindowTitle(tr("Preferences"));
  autosave_->setRange(0, 120);
  autosave_->setSuffix(tr(" min"));
  autosave_->setSpecialValueText(tr("off"));
  autosave_->setValue(current.autosave_minutes);
  autosave_->setToolTip(tr("Unsaved results of a run are written to a side file this often, so a crash loses "
                           "at most this much"));
  threads_->setRange(0, 4 * QThread::idealThreadCount());
  threads_->setSpecialValueText(tr("all cores"));
  threads_->setValue(current.torch_threads);
  threads_->setToolTip(tr("CPU threads torch uses for runs, previews and comparisons"));
  auto* form = new QFormLayout;
  form->addRow(tr("Autosave every"), autosave_);
  form->addRow(tr("Torch CPU threads"), threads_);
  auto* clear = new QPushButton(tr("Clear Recent Models"), this);
  connect(clear, &QPushButton::clicked, this, &PreferencesDialog::clear_recent_requested);
  form->addRow(QString(), clear);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(buttons);
}

Preferences PreferencesDialog::preferences() const { return {autosave_->value(), threads_->value()}; }

}  // namespace qs::app
