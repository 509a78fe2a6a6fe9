#pragma once
// Plain data the layer inspector draws for one linear: what app/ converts from
// the analyses cached in a project (core/analysis/layer_analysis.h).

#include <QPair>
#include <QString>
#include <QVector>

namespace qs::widgets {

// max |W − Q(W)| per cell; cells cover `rows_per_cell` output rows and
// `groups_per_cell` input groups of `group_size` columns each.
struct ErrorMapData {
  int rows = 0;
  int cols = 0;
  QVector<double> values;  // row-major, rows × cols
  qint64 out_features = 0;
  qint64 in_features = 0;
  qint64 group_size = 0;
  int rows_per_cell = 1;
  int groups_per_cell = 1;
};

// How the weights sit on the quantization grid (core/analysis/grid_histogram.h).
struct GridHistogramData {
  QVector<double> weight_counts;  // over [weight_lo, weight_hi]
  double weight_lo = 0;
  double weight_hi = 0;
  QVector<double> grid;  // levels of the group with the widest grid
  int grid_row = -1;
  int grid_group = -1;
  QVector<double> code_counts;  // continuous code positions over [−0.5, levels − 0.5]
  int levels = 0;
  bool empty() const { return weight_counts.isEmpty(); }
};

struct LayerInspection {
  QString name;                              // "model.layers.3.mlp.up_proj"
  QString title;                             // "up_proj · gptq W4g128"
  QVector<QPair<QString, QString>> metrics;  // ("Output rel. MSE", "1.2e-3"), ...
  QVector<double> sv_weight;
  QVector<double> sv_error;
  QVector<double> sv_scaled_error;  // empty when no input statistics were taken
  // Σσ² of each whole spectrum when the values above are only its top; 0: they are all of it.
  double sv_weight_energy = 0;
  double sv_error_energy = 0;
  double sv_scaled_error_energy = 0;
  QVector<double> act_abs_max;      // per input channel; may be empty
  QVector<double> act_mean_abs;
  QVector<double> weight_abs_max;
  ErrorMapData error_map;
  GridHistogramData histogram;
};

}  // namespace qs::widgets
