#pragma once
// An editor per typed hyper-parameter (check box, spin box, combo or line
// edit, with the parameter's help as tooltip), laid out as a form: the method
// panel shows one for the method and one for the refinement composed after it.

#include <QVariantMap>
#include <QVector>
#include <QWidget>

#include "widgets/method_panel.h"

class QFormLayout;

namespace qs::widgets {

class ParamForm : public QWidget {
  Q_OBJECT
 public:
  explicit ParamForm(QWidget* parent = nullptr);

  // Editors for `params`, each at its default; editor object names are
  // `prefix` + the parameter's name.
  void show_params(const QVector<ParamInfo>& params, const QString& prefix);
  // Only the values that differ from their defaults.
  QVariantMap values() const;
  // Sets the listed parameters; the others keep what they show.
  void set_values(const QVariantMap& values);
  // What the form says, from the next show_params on, when it has no
  // parameter to show (nothing when empty).
  void set_empty_text(const QString& text) { empty_text_ = text; }

 private:
  QFormLayout* form_;
  QString empty_text_;
  QVector<ParamInfo> params_;
  QVector<QWidget*> editors_;  // in the order of params_
};

}  // namespace qs::widgets
