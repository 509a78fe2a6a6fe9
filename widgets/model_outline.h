#pragma once
// Plain data the model views draw: what app/ extracts from a loaded checkpoint.

#include <QString>
#include <QVector>

namespace qs::widgets {

struct LinearRow {
  QString name;   // full HF name, "model.layers.3.self_attn.q_proj"
  QString label;  // short, "q_proj"
  qint64 out_features = 0;
  qint64 in_features = 0;
  QString stored_dtype;  // "Q4_1", "F16", ...
};

struct BlockRow {
  int index = 0;
  QVector<LinearRow> linears;
};

struct ModelOutline {
  QString path;
  QVector<QPair<QString, QString>> facts;  // ("Architecture", "llama"), ...
  QVector<BlockRow> blocks;
};

}  // namespace qs::widgets
