#include "app/gui/method_infos.h"

#include <variant>

#include <QObject>

#include "core/error.h"
#include "core/methods/method_registry.h"
#include "core/pipeline/quant_plan.h"

namespace qs::app {

quant::ParamValue to_param(const QVariant& v) {
  switch (v.typeId()) {
    case QMetaType::Bool: return v.toBool();
    case QMetaType::Int:
    case QMetaType::LongLong: return static_cast<int64_t>(v.toLongLong());
    case QMetaType::Double: return v.toDouble();
    default: return v.toString().toStdString();
  }
}

QVariant to_variant(const quant::ParamValue& p) {
  return std::visit(
      [](const auto& v) -> QVariant {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) return QString::fromStdString(v);
        else if constexpr (std::is_same_v<T, int64_t>) return static_cast<qlonglong>(v);
        else return v;
      },
      p);
}

quant::QuantSpec spec_of(const widgets::LayerSetting& s) {
  quant::QuantSpec spec;
  spec.bits = s.bits;
  spec.group_size = s.group;
  spec.symmetric = s.symmetric;
  return spec;
}

pipeline::LayerChoice choice_of(const widgets::LayerSetting& s, const std::string& source) {
  auto choice = pipeline::QuantPlan::make_choice(s.method.toStdString(), spec_of(s), source);
  for (auto it = s.params.begin(); it != s.params.end(); ++it)
    choice.params.set(it.key().toStdString(), to_param(*it), source + ": params");
  return choice;
}

void set_then(pipeline::LayerChoice& choice, const QString& then, const QVariantMap& params,
              const std::string& source) {
  choice.then = then.toStdString();
  choice.then_params = {};
  if (then.isEmpty()) {
    if (!params.isEmpty()) throw ConfigError(source, "then.params", "parameters given without a refinement to run");
    return;
  }
  choice.then_params = methods::refinement_or_throw(choice.then, source).default_params();
  for (auto it = params.begin(); it != params.end(); ++it)
    choice.then_params.set(it.key().toStdString(), to_param(*it), source + ": then.params");
}

namespace {

// What the dock shows of a method or refinement.
template <typename M>
widgets::MethodInfo info_of(const M& m) {
  widgets::MethodInfo info;
  info.name = QString::fromStdString(m.name());
  info.description = QString::fromStdString(m.description());
  for (const auto& p : m.param_specs()) {
    widgets::ParamInfo pi;
    pi.name = QString::fromStdString(p.name);
    pi.help = QString::fromStdString(p.help);
    pi.min = p.min;
    pi.max = p.max;
    for (const auto& c : p.choices) pi.choices.append(QString::fromStdString(c));
    pi.default_value = to_variant(p.default_value);
    info.params.append(pi);
  }
  return info;
}

}  // namespace

QVector<widgets::MethodInfo> refinement_infos() {
  QVector<widgets::MethodInfo> out;
  for (const auto* r : methods::all_refinements()) out.append(info_of(*r));
  return out;
}

QVector<widgets::MethodInfo> method_infos() {
  QVector<widgets::MethodInfo> out;
  for (const auto* m : methods::all_methods()) out.append(info_of(*m));
  widgets::MethodInfo keep;
  keep.name = QString::fromLatin1(pipeline::kKeepFp);
  keep.description = QObject::tr("keep the linear unquantized, in the model's dtype (for layers that must stay "
                                 "exact, e.g. the first block's down_proj)");
  out.append(keep);
  return out;
}

}  // namespace qs::app
