#pragma once
// The method panel's plain description of every registered method.

#include <QVector>

#include "widgets/method_panel.h"

namespace qs::app {

QVector<widgets::MethodInfo> method_infos();

}  // namespace qs::app
