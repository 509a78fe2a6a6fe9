#include "widgets/layer_inspector.h"

#include <QLabel>
#include <QStackedWidget>
#include <QTabWidget>
#include <QVBoxLayout>

#include "widgets/error_heatmap.h"
#include "widgets/grid_histogram_view.h"
#include "widgets/outlier_view.h"
#include "widgets/spectrum_plot.h"

namespace qs::widgets {

LayerInspector::LayerInspector(QWidget* parent)
    : QWidget(parent),
      title_(new QLabel(this)),
      metrics_(new QLabel(this)),
      message_(new QLabel(this)),
      stack_(new QStackedWidget(this)),
      tabs_(new QTabWidget(this)),
      spectrum_(new SpectrumPlot(this)),
      heatmap_(new ErrorHeatmap(this)),
      outliers_(new OutlierView(this)),
      histogram_(new GridHistogramView(this)) {
  QFont f = title_->font();
  f.setPointSizeF(f.pointSizeF() * 1.25);
  f.setBold(true);
  title_->setFont(f);
  metrics_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  // Long metric lines wrap rather than widen the page and squeeze the docks.
  metrics_->setWordWrap(true);
  title_->setWordWrap(true);
  message_->setAlignment(Qt::AlignCenter);
  message_->setWordWrap(true);
  tabs_->addTab(spectrum_, tr("Spectrum"));
  tabs_->addTab(heatmap_, tr("Error map"));
  tabs_->addTab(outliers_, tr("Outliers"));
  tabs_->addTab(histogram_, tr("Histogram"));
  stack_->addWidget(message_);
  stack_->addWidget(tabs_);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(title_);
  layout->addWidget(metrics_);
  layout->addWidget(stack_, 1);
  show_message(
      tr("Select a linear in the model tree to see its spectra, error map, channel outliers and weight "
         "histogram here."));
}

void LayerInspector::show_message(const QString& message, const QString& title) {
  title_->setText(title);
  metrics_->clear();
  message_->setText(message);
  stack_->setCurrentWidget(message_);
}

void LayerInspector::set_inspection(const LayerInspection& layer) {
  title_->setText(layer.title);
  QStringList parts;
  for (const auto& [k, v] : layer.metrics)
    parts << QStringLiteral("<b>%1</b> %2").arg(k.toHtmlEscaped(), v.toHtmlEscaped());
  metrics_->setText(parts.join(QStringLiteral(" &nbsp;·&nbsp; ")));
  spectrum_->set_series({{tr("W"), layer.sv_weight, QColor(31, 119, 180), layer.sv_weight_energy},
                         {tr("E = W − Q(W)"), layer.sv_error, QColor(214, 39, 40), layer.sv_error_energy},
                         {tr("E · diag(mean |x|)"), layer.sv_scaled_error, QColor(255, 127, 14),
                          layer.sv_scaled_error_energy}});
  heatmap_->set_map(layer.error_map);
  outliers_->set_inspection(layer);
  histogram_->set_histogram(layer.histogram);
  stack_->setCurrentWidget(tabs_);
}

}  // namespace qs::widgets
