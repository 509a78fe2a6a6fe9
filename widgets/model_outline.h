#pragma once
// Plain data the model views draw: what app/ extracts from a loaded checkpoint.

#include <QMap>
#include <QString>
#include <QVector>

#include "widgets/layer_inspection.h"

namespace qs::widgets {

struct LinearRow {
  QString name;   // full HF name, "model.layers.3.self_attn.q_proj"
  QString label;  // short, "q_proj"
  qint64 out_features = 0;
  qint64 in_features = 0;
  QString stored_dtype;          // "Q4_1", "F16", ...
  QString method;                // "gptq W4g128", "fp16"; empty when no method was chosen
  double output_rel_mse = -1.0;  // measured by the run; negative: not measured
};

struct BlockRow {
  int index = 0;
  QVector<LinearRow> linears;
};

struct ModelOutline {
  QString path;
  QVector<QPair<QString, QString>> facts;  // ("Architecture", "llama"), ...
  QVector<BlockRow> blocks;
  QString project_path;                        // set when opened from a .qsproj
  QString fp_model;                            // the FP model a quantized checkpoint or project came from
  QString warning;                             // e.g. the project's model changed since it was saved
  QMap<QString, LayerInspection> inspections;  // by linear name, from a project's cached analyses
};

}  // namespace qs::widgets
