#pragma once
// The method panel's plain description of every registered method.

#include <QVector>

#include "core/pipeline/quant_plan.h"
#include "core/quant/method_params.h"
#include "widgets/method_panel.h"

namespace qs::app {

QVector<widgets::MethodInfo> method_infos();
// The refinements a run can compose after its method (the dock's "Then").
QVector<widgets::MethodInfo> refinement_infos();

// A hyper-parameter as the method panel holds it, as the core takes it.
quant::ParamValue to_param(const QVariant& v);
QVariant to_variant(const quant::ParamValue& p);

// A dock setting's grid, and the whole setting as the core's choice (method,
// grid and every parameter checked; qs::ConfigError names `source`).
quant::QuantSpec spec_of(const widgets::LayerSetting& s);
pipeline::LayerChoice choice_of(const widgets::LayerSetting& s, const std::string& source);
// Composes refinement `then` (empty: none) with its parameters into `choice`,
// each checked by the core; qs::ConfigError names `source`.
void set_then(pipeline::LayerChoice& choice, const QString& then, const QVariantMap& params, const std::string& source);

}  // namespace qs::app
