#include "app/gui/project_outline.h"

#include <QObject>
#include <QRegularExpression>
#include <cmath>

namespace qs::app {
namespace {

QString method_label(const project::LayerEntry& e) {
  return e.method == "fp16" ? QStringLiteral("fp16")
                            : QString::fromStdString(e.method) + " " + QString::fromStdString(e.spec.label());
}

// Excess kurtosis of the per-channel activation maxima: large when a few
// channels carry outliers (the channels AWQ and SmoothQuant scale).
double excess_kurtosis(const QVector<double>& v) {
  if (v.size() < 4) return std::nan("");
  double mean = 0;
  for (double x : v) mean += x;
  mean /= v.size();
  double m2 = 0, m4 = 0;
  for (double x : v) {
    const double d = x - mean;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= v.size();
  m4 /= v.size();
  return m2 > 0 ? m4 / (m2 * m2) - 3.0 : std::nan("");
}

QString short_name(const QString& name) { return name.section('.', -1); }

}  // namespace

QVector<double> analysis_values(const std::map<std::string, torch::Tensor>& a, const char* key) {
  auto it = a.find(key);
  if (it == a.end()) return {};
  const auto t = it->second.to(torch::kFloat64).contiguous().reshape({-1});
  const double* p = t.data_ptr<double>();
  return QVector<double>(p, p + t.numel());
}

double analysis_scalar(const std::map<std::string, torch::Tensor>& a, const char* key) {
  const auto v = analysis_values(a, key);
  return v.size() == 1 ? v[0] : 0.0;
}

widgets::LayerInspection build_inspection(const project::LayerEntry& e) {
  widgets::LayerInspection li;
  li.name = QString::fromStdString(e.name);
  li.title = QStringLiteral("%1 · %2").arg(li.name, method_label(e));
  const auto& a = e.analyses;
  li.sv_weight = analysis_values(a, "sv_weight");
  li.sv_error = analysis_values(a, "sv_error");
  li.sv_scaled_error = analysis_values(a, "sv_scaled_error");
  li.sv_weight_energy = analysis_scalar(a, "sv_weight_energy");
  li.sv_error_energy = analysis_scalar(a, "sv_error_energy");
  li.sv_scaled_error_energy = analysis_scalar(a, "sv_scaled_error_energy");
  li.act_abs_max = analysis_values(a, "act_abs_max");
  li.act_mean_abs = analysis_values(a, "act_mean_abs");
  li.weight_abs_max = analysis_values(a, "weight_abs_max");
  if (auto it = a.find("error_map"); it != a.end() && it->second.dim() == 2 && e.record) {
    auto& m = li.error_map;
    m.rows = static_cast<int>(it->second.size(0));
    m.cols = static_cast<int>(it->second.size(1));
    m.values = analysis_values(a, "error_map");
    m.out_features = e.record->out_features;
    m.in_features = e.record->in_features;
    m.group_size = e.record->spec.effective_group(e.record->in_features);
    const qint64 groups = e.record->spec.num_groups(e.record->in_features);
    m.rows_per_cell = static_cast<int>((m.out_features + m.rows - 1) / std::max(1, m.rows));
    m.groups_per_cell = static_cast<int>((groups + m.cols - 1) / std::max(1, m.cols));
  }
  if (auto it = a.find("hist_weight"); it != a.end() && e.record) {
    auto& h = li.histogram;
    h.weight_counts = analysis_values(a, "hist_weight");
    const auto range = analysis_values(a, "hist_weight_range");
    const auto where = analysis_values(a, "hist_grid_group");
    if (range.size() == 2) h.weight_lo = range[0], h.weight_hi = range[1];
    if (where.size() == 2) h.grid_row = static_cast<int>(where[0]), h.grid_group = static_cast<int>(where[1]);
    h.grid = analysis_values(a, "hist_grid");
    h.code_counts = analysis_values(a, "hist_code");
    h.levels = 1 << e.record->spec.bits;
  }
  if (e.record)
    li.metrics.append(
        {QObject::tr("Shape"), QStringLiteral("%1 × %2").arg(e.record->out_features).arg(e.record->in_features)});
  if (e.has_metrics) {
    li.metrics.append({QObject::tr("Output rel. MSE"), QString::number(e.output_rel_mse, 'e', 3)});
    li.metrics.append({QObject::tr("Weight MSE"), QString::number(e.weight_mse, 'e', 3)});
    li.metrics.append({QObject::tr("Time"), QStringLiteral("%1 s").arg(e.seconds, 0, 'f', 2)});
  }
  if (const auto rank = analysis_values(a, "sv_rank"); rank.size() == 1)
    li.metrics.append({QObject::tr("Spectra"), QObject::tr("top %1 of %2 singular values (randomized)")
                                                   .arg(li.sv_weight.size())
                                                   .arg(static_cast<qint64>(rank[0]))});
  const double k = excess_kurtosis(li.act_abs_max);
  if (!std::isnan(k)) li.metrics.append({QObject::tr("Channel-max kurtosis"), QString::number(k, 'f', 1)});
  return li;
}

void apply_project(const project::Project& p, widgets::ModelOutline& outline) {
  if (outline.blocks.isEmpty()) {
    static const QRegularExpression layer_re(QStringLiteral("^model\\.layers\\.(\\d+)\\."));
    for (const auto& e : p.layers) {
      const QString name = QString::fromStdString(e.name);
      const auto m = layer_re.match(name);
      if (!m.hasMatch()) continue;
      const int index = m.captured(1).toInt();
      while (outline.blocks.size() <= index) {
        widgets::BlockRow block;
        block.index = static_cast<int>(outline.blocks.size());
        outline.blocks.append(block);
      }
      widgets::LinearRow row;
      row.name = name;
      row.label = short_name(name);
      if (e.record) {
        row.out_features = e.record->out_features;
        row.in_features = e.record->in_features;
      }
      outline.blocks[index].linears.append(row);
    }
  }
  std::map<QString, const project::LayerEntry*> by_name;
  for (const auto& e : p.layers) by_name[QString::fromStdString(e.name)] = &e;
  for (auto& block : outline.blocks)
    for (auto& row : block.linears) {
      auto it = by_name.find(row.name);
      if (it == by_name.end()) continue;
      row.method = method_label(*it->second);
      if (it->second->has_metrics) row.output_rel_mse = it->second->output_rel_mse;
      if (!it->second->analyses.empty()) outline.inspections.insert(row.name, build_inspection(*it->second));
    }
  if (!std::isnan(p.results.ppl_quantized))
    outline.facts.append({QObject::tr("Perplexity"), QStringLiteral("%1 (FP %2), %3")
                                                         .arg(p.results.ppl_quantized, 0, 'f', 4)
                                                         .arg(p.results.ppl_fp, 0, 'f', 4)
                                                         .arg(QString::fromStdString(p.settings.eval_text))});
  outline.facts.append({QObject::tr("Calibration"), QStringLiteral("%1 × %2 tokens of %3")
                                                        .arg(p.settings.nsamples)
                                                        .arg(p.settings.seqlen)
                                                        .arg(QString::fromStdString(p.settings.calibration_text))});
}

}  // namespace qs::app
