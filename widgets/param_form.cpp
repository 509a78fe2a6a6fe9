#include "widgets/param_form.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <algorithm>
#include <cmath>
#include <limits>

namespace qs::widgets {
namespace {

int clamp_to_int(double v) {
  return static_cast<int>(std::max<double>(std::numeric_limits<int>::min(),
                                           std::min<double>(std::numeric_limits<int>::max(), v)));
}

QWidget* editor_for(const ParamInfo& p, QWidget* parent) {
  const auto type = p.default_value.typeId();
  if (type == QMetaType::Bool) {
    auto* c = new QCheckBox(parent);
    c->setChecked(p.default_value.toBool());
    return c;
  }
  if (type == QMetaType::LongLong || type == QMetaType::Int) {
    auto* s = new QSpinBox(parent);
    s->setRange(clamp_to_int(p.min), clamp_to_int(p.max));
    s->setValue(static_cast<int>(p.default_value.toLongLong()));
    return s;
  }
  if (type == QMetaType::Double) {
    auto* s = new QDoubleSpinBox(parent);
    // Learning rates go down to 1e-5: enough decimals to set them.
    s->setDecimals(6);
    s->setRange(p.min, p.max);
    s->setSingleStep(std::max(1e-6, std::abs(p.default_value.toDouble()) / 10));
    s->setValue(p.default_value.toDouble());
    return s;
  }
  if (!p.choices.isEmpty()) {
    auto* c = new QComboBox(parent);
    c->addItems(p.choices);
    c->setCurrentText(p.default_value.toString());
    return c;
  }
  return new QLineEdit(p.default_value.toString(), parent);
}

}  // namespace

ParamForm::ParamForm(QWidget* parent) : QWidget(parent), form_(new QFormLayout(this)) {
  form_->setContentsMargins(0, 0, 0, 0);
}

void ParamForm::show_params(const QVector<ParamInfo>& params, const QString& prefix) {
  while (form_->rowCount() > 0) form_->removeRow(0);
  params_ = params;
  editors_.clear();
  for (const auto& p : params_) {
    QWidget* editor = editor_for(p, this);
    editor->setObjectName(prefix + p.name);
    editor->setToolTip(p.help);
    auto* label = new QLabel(p.name, this);
    label->setToolTip(p.help);
    form_->addRow(label, editor);
    editors_.append(editor);
  }
  if (params_.isEmpty() && !empty_text_.isEmpty()) {
    auto* none = new QLabel(empty_text_, this);
    none->setObjectName("noParams");
    none->setEnabled(false);
    none->setWordWrap(true);
    form_->addRow(none);
  }
}

QVariantMap ParamForm::values() const {
  QVariantMap out;
  for (int i = 0; i < params_.size(); ++i) {
    QVariant v;
    QWidget* e = editors_[i];
    if (auto* c = qobject_cast<QCheckBox*>(e)) v = c->isChecked();
    else if (auto* sp = qobject_cast<QSpinBox*>(e)) v = static_cast<qlonglong>(sp->value());
    else if (auto* d = qobject_cast<QDoubleSpinBox*>(e)) v = d->value();
    else if (auto* cb = qobject_cast<QComboBox*>(e)) v = cb->currentText();
    else if (auto* le = qobject_cast<QLineEdit*>(e)) v = le->text();
    if (v != params_[i].default_value) out.insert(params_[i].name, v);
  }
  return out;
}

void ParamForm::set_values(const QVariantMap& values) {
  for (int i = 0; i < params_.size(); ++i) {
    if (!values.contains(params_[i].name)) continue;
    const QVariant v = values.value(params_[i].name);
    QWidget* e = editors_[i];
    if (auto* c = qobject_cast<QCheckBox*>(e)) c->setChecked(v.toBool());
    else if (auto* sp = qobject_cast<QSpinBox*>(e)) sp->setValue(v.toInt());
    else if (auto* d = qobject_cast<QDoubleSpinBox*>(e)) d->setValue(v.toDouble());
    else if (auto* cb = qobject_cast<QComboBox*>(e)) cb->setCurrentText(v.toString());
    else if (auto* le = qobject_cast<QLineEdit*>(e)) le->setText(v.toString());
  }
}

}  // namespace qs::widgets
