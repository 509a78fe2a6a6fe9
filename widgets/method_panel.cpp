#include "widgets/method_panel.h"

#include <QCheckBox>
#include <QComboBox>
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

#include "widgets/param_form.h"

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

}  // namespace

MethodPanel::MethodPanel(QWidget* parent)
    : QWidget(parent),
      preset_(new QComboBox(this)),
      method_(new QComboBox(this)),
      description_(new QLabel(this)),
      params_(new ParamForm(this)),
      then_(new QComboBox(this)),
      then_description_(new QLabel(this)),
      then_params_(new ParamForm(this)),
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
  auto* params_layout = new QVBoxLayout(params_box);
  params_->set_empty_text(tr("None: the grid above is all this method takes"));
  params_layout->addWidget(params_);
  layout->addWidget(params_box);

  auto* then_box = new QGroupBox(tr("Then, over the whole model"), this);
  auto* then_layout = new QVBoxLayout(then_box);
  then_->setObjectName("thenCombo");
  then_->setToolTip(tr("A refinement trained over the whole quantized model after the last block, e.g. RILQ's "
                       "LoRA error compensation"));
  then_description_->setWordWrap(true);
  then_description_->setObjectName("thenDescription");
  then_layout->addWidget(then_);
  then_layout->addWidget(then_description_);
  then_layout->addWidget(then_params_);
  layout->addWidget(then_box);
  set_refinements({});

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
  connect(then_, &QComboBox::currentIndexChanged, this, &MethodPanel::show_refinement);
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

void MethodPanel::set_refinements(const QVector<MethodInfo>& refinements) {
  refinements_ = refinements;
  const QSignalBlocker block(then_);
  then_->clear();
  then_->addItem(tr("none"));
  for (const auto& r : refinements_) then_->addItem(r.name);
  show_refinement(0);
}

void MethodPanel::show_refinement(int index) {
  const bool some = index >= 1 && index <= refinements_.size();
  then_description_->setText(some ? refinements_[index - 1].description
                                  : tr("Nothing after the method: each block is final once quantized."));
  then_params_->show_params(some ? refinements_[index - 1].params : QVector<ParamInfo>{}, "then_param_");
}

void MethodPanel::show_params(int index) {
  const bool some = index >= 0 && index < methods_.size();
  description_->setText(some ? methods_[index].description : QString());
  params_->show_params(some ? methods_[index].params : QVector<ParamInfo>{}, "param_");
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
  params_->set_values(s.params);
  {
    const QSignalBlocker block(then_);
    then_->setCurrentIndex(std::max(0, s.then.isEmpty() ? 0 : then_->findText(s.then)));
  }
  show_refinement(then_->currentIndex());
  then_params_->set_values(s.then_params);
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
  s.params = params_->values();
  if (then_->currentIndex() > 0) {
    s.then = then_->currentText();
    s.then_params = then_params_->values();
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
