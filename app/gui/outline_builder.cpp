#include "app/gui/outline_builder.h"

#include <QObject>
#include <QStringList>
#include <cmath>
#include <map>

#include "core/checkpoint/model_loader.h"
#include "core/io/run_record.h"
#include "core/model/config_description.h"
#include "core/model/decoder.h"
#include "core/quant/quantized_linear.h"

namespace qs::app {

namespace {

// What a checkpoint's recorded run says: the method and grid with its
// refinements, the calibration, and the last perplexity measured. Fields it
// lacks are left out.
void add_run_facts(const io::RunRecord& run, widgets::ModelOutline& outline) {
  QString method = QString::fromStdString(run.method);
  if (!method.isEmpty() && run.bits && run.group) method += QStringLiteral(" W%1g%2").arg(*run.bits).arg(*run.group);
  for (const auto& r : run.refinements)
    if (!r.method.empty()) method += QObject::tr(", then %1").arg(QString::fromStdString(r.method));
  if (!method.isEmpty()) outline.facts.append({QObject::tr("Recorded run"), method});
  if (!run.calibration_text.empty())
    outline.facts.append({QObject::tr("Calibration"), QObject::tr("%1 × %2 tokens of %3")
                                                          .arg(run.calibration_samples)
                                                          .arg(run.calibration_seqlen)
                                                          .arg(QString::fromStdString(run.calibration_text))});
  const auto eval = run.last_eval();
  if (!eval.measured()) return;
  QString measured = QString::number(eval.ppl, 'f', 4);
  if (!std::isnan(eval.ppl_fp)) measured += QObject::tr(" (FP %1)").arg(eval.ppl_fp, 0, 'f', 4);
  if (!eval.text.empty()) measured += QStringLiteral(", ") + QString::fromStdString(eval.text);
  outline.facts.append({QObject::tr("Perplexity"), measured});
}

}  // namespace

widgets::ModelOutline build_outline(const model::ModelWeights& w) {
  const auto& c = w.config;
  widgets::ModelOutline o;
  o.path = QString::fromStdString(w.source.string());
  auto fact = [&](const QString& k, const QString& v) { o.facts.append({k, v}); };
  fact(QObject::tr("Architecture"), QString::fromStdString(c.architecture));
  fact(QObject::tr("Format"), QString::fromStdString(w.source_format));
  fact(QObject::tr("Parameters"),
       QStringLiteral("%1 M").arg(static_cast<double>(checkpoint::parameter_count(w)) / 1e6, 0, 'f', 1));
  fact(QObject::tr("Layers"), QString::number(c.num_layers));
  fact(QObject::tr("Hidden / MLP"), QStringLiteral("%1 / %2").arg(c.hidden_size).arg(c.intermediate_size));
  fact(QObject::tr("Attention"),
       QObject::tr("%1 heads, %2 KV heads, head dim %3").arg(c.num_heads).arg(c.num_kv_heads).arg(c.head_dim));
  fact(QObject::tr("Vocabulary"), QString::number(c.vocab_size));
  fact(QObject::tr("Embeddings"),
       c.tie_word_embeddings ? QObject::tr("tied to lm_head") : QObject::tr("separate lm_head"));
  fact(QObject::tr("RoPE"),
       QStringLiteral("θ = %1%2")
           .arg(c.rope_theta)
           .arg(c.rope_scaling.type.empty() ? QString() : ", " + QString::fromStdString(c.rope_scaling.type)));
  fact(QObject::tr("Context"), QString::number(c.max_position_embeddings));
  if (const auto part = checkpoint::left_alone_summary(w); !part.empty())
    fact(QObject::tr("Opened"), QString::fromStdString(part));
  for (const auto& [label, value] : model::describe_family_options(c))
    fact(QString::fromStdString(label), QString::fromStdString(value));
  std::map<std::string, int> stored;
  for (const auto& [name, dtype] : w.source_dtypes) ++stored[dtype];
  QStringList parts;
  for (const auto& [dtype, n] : stored) parts << QStringLiteral("%1 × %2").arg(QString::fromStdString(dtype)).arg(n);
  fact(QObject::tr("Stored tensors"), parts.join(", "));

  for (int64_t l = 0; l < c.num_layers; ++l) {
    widgets::BlockRow block;
    block.index = static_cast<int>(l);
    for (auto role : model::block_linear_roles(c, l)) {
      const std::string name = model::linear_name(l, role);
      widgets::LinearRow row;
      row.name = QString::fromStdString(name);
      row.label = QString::fromStdString(model::linear_role_name(role)).section('.', 1, -1);
      auto d = w.source_dtypes.find(name + ".weight");
      row.stored_dtype = d == w.source_dtypes.end() ? QString() : QString::fromStdString(d->second);
      if (w.has(name + ".weight")) {
        const auto shape = w.shape(name + ".weight");
        row.out_features = shape.at(0);
        row.in_features = shape.at(1);
      } else if (auto q = w.quantized.find(name); q != w.quantized.end()) {
        // Stored packed (a quantized export) or replaced by a project's record.
        row.out_features = q->second->out_features;
        row.in_features = q->second->in_features;
        if (row.stored_dtype.isEmpty()) row.stored_dtype = QString::fromStdString(q->second->spec.label());
      } else {
        continue;
      }
      block.linears.append(row);
    }
    o.blocks.append(block);
  }
  return o;
}

void apply_provenance(const checkpoint::Provenance& provenance, const model::ModelWeights& weights,
                      widgets::ModelOutline& outline) {
  const QString recorded = QString::fromStdString(provenance.source_model.string());
  if (!recorded.isEmpty()) outline.facts.append({QObject::tr("Quantized from"), recorded});
  // A recorded model that moved or changed is no reference to compare with.
  const auto problem = checkpoint::recorded_fp_model_problem(weights.source.string(), provenance);
  if (problem.empty())
    outline.fp_model = recorded;
  else if (!recorded.isEmpty())
    outline.warning = QString::fromStdString(problem);
  add_run_facts(io::run_record(provenance.run_json), outline);
  for (auto& block : outline.blocks)
    for (auto& row : block.linears) {
      const std::string name = row.name.toStdString();
      const auto p = provenance.linears.find(name);
      const auto q = weights.quantized.find(name);
      if (p == provenance.linears.end() || q == weights.quantized.end()) continue;
      row.method = QString::fromStdString(p->second.method + " " + q->second->spec.label());
      if (p->second.output_rel_mse > 0) row.output_rel_mse = p->second.output_rel_mse;
    }
}

}  // namespace qs::app
