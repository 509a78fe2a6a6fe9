#include "widgets/method_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <limits>

namespace qs::widgets {
namespace {

QWidget* file_row(QLineEdit* edit, const QString& title, QWidget* parent) {
  auto* row = new QWidget(parent);
  auto* h = new QHBoxLayout(row);
  h->setContentsMargins(0, 0, 0, 0);
  h->addWidget(edit, 1);
  auto* browse = new QToolButton(row);
  browse->setText(QStringLiteral("…"));
  browse->setToolTip(title);
  QObject::connect(browse, &QToolButton::clicked, row, [edit, title, row] {
    const QString f = QFileDialog::getOpenFileName(row, title, edit->text());
    if (!f.isEmpty()) edit->setText(f);
  });
  h->addWidget(browse);
  return row;
}

QSpinBox* spin(int lo, int hi, int value, QWidget* parent) {
  auto* s = new QSpinBox(parent);
  s->setRange(lo, hi);
  s->setValue(value);
  return s;
}

int clamp_to_int(double v) {
  return static_cast<int>(std::max<double>(std::numeric_limits<int>::min(),
                                           std::min<double>(std::numeric_limits<int>::max(), v)));
}

}  // namespace

MethodPanel::MethodPanel(QWidget* parent)
    : QWidget(parent),
      preset_(new QComboBox(this)),
      method_(new QComboBox(this)),
      description_(new QLabel(this)),
      params_form_(nullptr),
      bits_(spin(2, 8, 4, this)),
      group_(new QComboBox(this)),
      symmetric_(new QCheckBox(tr("symmetric"), this)),
      calibration_(new QLineEdit(this)),
      nsamples_(spin(1, 4096, 32, this)),
      seqlen_(spin(8, 32768, 512, this)),
      eval_(new QLineEdit(this)),
      eval_windows_(spin(1, 1024, 4, this)),
      eval_ctx_(spin(8, 32768, 128, this)),
      apply_(new QPushButton(tr("Apply to Selected Layers"), this)),
      reset_(new QPushButton(tr("Reset Selected"), this)),
      run_(new QPushButton(tr("Run"), this)),
      cancel_(new QPushButton(tr("Cancel"), this)) {
  auto* layout = new QVBoxLayout(this);
  auto* preset_row = new QHBoxLayout;
  preset_->setObjectName("presetCombo");
  preset_->setToolTip(tr("Fill the method, grid and hyper-parameters from a named preset"));
  auto* save_preset = new QToolButton(this);
  save_preset->setText(tr("Save…"));
  save_preset->setToolTip(tr("Save the current method, grid and hyper-parameters as a preset"));
  preset_row->addWidget(preset_, 1);
  preset_row->addWidget(save_preset);
  layout->addLayout(preset_row);
  connect(save_preset, &QToolButton::clicked, this, &MethodPanel::save_preset_requested);
  connect(preset_, &QComboBox::activated, this, [this](int i) {
    if (i > 0) Q_EMIT preset_chosen(i - 1);
    preset_->setCurrentIndex(0);
  });
  description_->setWordWrap(true);
  description_->setObjectName("methodDescription");
  layout->addWidget(method_);
  layout->addWidget(description_);

  auto* grid_box = new QGroupBox(tr("Grid"), this);
  auto* grid = new QFormLayout(grid_box);
  bits_->setToolTip(tr("bits per weight"));
  for (int g : {32, 64, 128}) group_->addItem(tr("%1").arg(g), g);
  group_->addItem(tr("per channel"), 0);
  group_->setCurrentIndex(2);
  group_->setToolTip(tr("input channels sharing one scale and zero point"));
  grid->addRow(tr("Bits"), bits_);
  grid->addRow(tr("Group"), group_);
  grid->addRow(QString(), symmetric_);
  layout->addWidget(grid_box);

  auto* params_box = new QGroupBox(tr("Hyper-parameters"), this);
  params_form_ = new QFormLayout(params_box);
  layout->addWidget(params_box);

  auto* data_box = new QGroupBox(tr("Data"), this);
  auto* data = new QFormLayout(data_box);
  calibration_->setPlaceholderText(tr("text file for calibration"));
  eval_->setPlaceholderText(tr("text file for the live perplexity (optional)"));
  data->addRow(tr("Calibration"), file_row(calibration_, tr("Calibration text"), data_box));
  data->addRow(tr("Sequences"), nsamples_);
  data->addRow(tr("Tokens each"), seqlen_);
  data->addRow(tr("Live eval"), file_row(eval_, tr("Evaluation text"), data_box));
  eval_windows_->setToolTip(tr("windows of the evaluation text scored after each block"));
  eval_ctx_->setToolTip(tr("tokens per window of the live perplexity"));
  data->addRow(tr("Eval windows"), eval_windows_);
  data->addRow(tr("Eval tokens each"), eval_ctx_);
  layout->addWidget(data_box);

  auto* layer_buttons = new QHBoxLayout;
  apply_->setObjectName("applyButton");
  apply_->setToolTip(tr("Give the layers selected in the model tree this method and grid (Ctrl+Return); the "
                        "others keep the default"));
  reset_->setObjectName("resetButton");
  reset_->setToolTip(tr("Put the selected layers back on the default method and grid"));
  layer_buttons->addWidget(apply_);
  layer_buttons->addWidget(reset_);
  layout->addLayout(layer_buttons);

  auto* buttons = new QHBoxLayout;
  run_->setObjectName("runButton");
  cancel_->setObjectName("cancelButton");
  buttons->addWidget(run_);
  buttons->addWidget(cancel_);
  layout->addLayout(buttons);
  layout->addStretch(1);

  connect(method_, &QComboBox::currentIndexChanged, this, &MethodPanel::show_params);
  connect(calibration_, &QLineEdit::textChanged, this, &MethodPanel::update_run_enabled);
  connect(run_, &QPushButton::clicked, this, [this] { Q_EMIT run_requested(settings()); });
  connect(cancel_, &QPushButton::clicked, this, &MethodPanel::cancel_requested);
  connect(apply_, &QPushButton::clicked, this, &MethodPanel::apply_to_selection_requested);
  connect(reset_, &QPushButton::clicked, this, &MethodPanel::reset_selection_requested);
  set_running(false);
}

void MethodPanel::set_methods(const QVector<MethodInfo>& methods) {
  methods_ = methods;
  const QSignalBlocker block(method_);
  method_->clear();
  for (const auto& m : methods_) method_->addItem(m.name);
  show_params(methods_.isEmpty() ? -1 : 0);
}

void MethodPanel::show_params(int index) {
  while (params_form_->rowCount() > 0) params_form_->removeRow(0);
  param_editors_.clear();
  if (index < 0 || index >= methods_.size()) {
    description_->clear();
    return;
  }
  const auto& m = methods_[index];
  description_->setText(m.description);
  for (const auto& p : m.params) {
    QWidget* editor = nullptr;
    const auto type = p.default_value.typeId();
    if (type == QMetaType::Bool) {
      auto* c = new QCheckBox(this);
      c->setChecked(p.default_value.toBool());
      editor = c;
    } else if (type == QMetaType::LongLong || type == QMetaType::Int) {
      auto* s = new QSpinBox(this);
      s->setRange(clamp_to_int(p.min), clamp_to_int(p.max));
      s->setValue(static_cast<int>(p.default_value.toLongLong()));
      editor = s;
    } else if (type == QMetaType::Double) {
      auto* s = new QDoubleSpinBox(this);
      // Learning rates go down to 1e-5: enough decimals to set them.
      s->setDecimals(6);
      s->setRange(p.min, p.max);
      s->setSingleStep(std::max(1e-6, std::abs(p.default_value.toDouble()) / 10));
      s->setValue(p.default_value.toDouble());
      editor = s;
    } else if (!p.choices.isEmpty()) {
      auto* c = new QComboBox(this);
      c->addItems(p.choices);
      c->setCurrentText(p.default_value.toString());
      editor = c;
    } else {
      editor = new QLineEdit(p.default_value.toString(), this);
    }
    editor->setObjectName("param_" + p.name);
    editor->setToolTip(p.help);
    auto* label = new QLabel(p.name, this);
    label->setToolTip(p.help);
    params_form_->addRow(label, editor);
    param_editors_.append(editor);
  }
}

void MethodPanel::set_settings(const RunSettings& s) {
  const int index = method_->findText(s.method);
  if (index >= 0) {
    // Editors back to the method's defaults: s.params lists only what differs.
    const QSignalBlocker block(method_);
    method_->setCurrentIndex(index);
    show_params(index);
  }
  bits_->setValue(s.bits);
  if (const int g = group_->findData(static_cast<int>(s.group)); g >= 0) group_->setCurrentIndex(g);
  symmetric_->setChecked(s.symmetric);
  calibration_->setText(s.calibration_path);
  nsamples_->setValue(s.nsamples);
  seqlen_->setValue(s.seqlen);
  eval_->setText(s.eval_path);
  eval_windows_->setValue(s.eval_windows);
  eval_ctx_->setValue(s.eval_ctx);
  const int m = method_->currentIndex();
  if (m < 0) return;
  for (int i = 0; i < methods_[m].params.size(); ++i) {
    const auto& name = methods_[m].params[i].name;
    if (!s.params.contains(name)) continue;
    const QVariant v = s.params.value(name);
    QWidget* e = param_editors_[i];
    if (auto* c = qobject_cast<QCheckBox*>(e)) c->setChecked(v.toBool());
    else if (auto* sp = qobject_cast<QSpinBox*>(e)) sp->setValue(v.toInt());
    else if (auto* d = qobject_cast<QDoubleSpinBox*>(e)) d->setValue(v.toDouble());
    else if (auto* cb = qobject_cast<QComboBox*>(e)) cb->setCurrentText(v.toString());
    else if (auto* le = qobject_cast<QLineEdit*>(e)) le->setText(v.toString());
  }
}

RunSettings MethodPanel::settings() const {
  RunSettings s;
  s.method = method_->currentText();
  s.bits = bits_->value();
  s.group = group_->currentData().toLongLong();
  s.symmetric = symmetric_->isChecked();
  s.calibration_path = calibration_->text();
  s.nsamples = nsamples_->value();
  s.seqlen = seqlen_->value();
  s.eval_path = eval_->text();
  s.eval_windows = eval_windows_->value();
  s.eval_ctx = eval_ctx_->value();
  const int m = method_->currentIndex();
  if (m < 0) return s;
  for (int i = 0; i < methods_[m].params.size(); ++i) {
    const auto& p = methods_[m].params[i];
    QVariant v;
    QWidget* e = param_editors_[i];
    if (auto* c = qobject_cast<QCheckBox*>(e)) v = c->isChecked();
    else if (auto* sp = qobject_cast<QSpinBox*>(e)) v = static_cast<qlonglong>(sp->value());
    else if (auto* d = qobject_cast<QDoubleSpinBox*>(e)) v = d->value();
    else if (auto* cb = qobject_cast<QComboBox*>(e)) v = cb->currentText();
    else if (auto* le = qobject_cast<QLineEdit*>(e)) v = le->text();
    if (v != p.default_value) s.params.insert(p.name, v);
  }
  return s;
}

void MethodPanel::set_presets(const QStringList& names, const QStringList& descriptions) {
  const QSignalBlocker block(preset_);
  preset_->clear();
  preset_->addItem(tr("Presets…"));
  for (int i = 0; i < names.size(); ++i) {
    preset_->addItem(names[i]);
    preset_->setItemData(i + 1, descriptions.value(i), Qt::ToolTipRole);
  }
}

int MethodPanel::preset_count() const { return std::max(0, preset_->count() - 1); }

LayerSetting MethodPanel::layer_setting() const {
  const auto s = settings();
  return {s.method, s.bits, s.group, s.symmetric, s.params};
}

QString LayerSetting::label() const {
  if (method == QLatin1String("fp16")) return method;
  QString grid = QStringLiteral("W%1").arg(bits);
  if (group > 0) grid += QStringLiteral("g%1").arg(group);
  if (symmetric) grid += QStringLiteral("-sym");
  return method + ' ' + grid;
}

void MethodPanel::set_running(bool running) {
  running_ = running;
  cancel_->setEnabled(running);
  update_run_enabled();
}

void MethodPanel::set_model_available(bool available) {
  model_available_ = available;
  update_run_enabled();
}

void MethodPanel::update_run_enabled() {
  const bool ready = model_available_ && !calibration_->text().isEmpty();
  run_->setEnabled(!running_ && ready);
  run_->setToolTip(!model_available_        ? tr("Open a model first")
                   : calibration_->text().isEmpty() ? tr("Choose a calibration text")
                                                    : tr("Quantize the model block by block"));
}

}  // namespace qs::widgets
