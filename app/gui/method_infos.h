#pragma once
// The method panel's plain description of every registered method.

#include <QVector>

#include "core/quant/method_params.h"
#include "widgets/method_panel.h"

namespace qs::app {

QVector<widgets::MethodInfo> method_infos();

// A hyper-parameter as the method panel holds it, as the core takes it.
quant::ParamValue to_param(const QVariant& v);

}  // namespace qs::app
