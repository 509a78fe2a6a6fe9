#pragma once
// The centre inspector for one linear: its title and metrics above tabs with
// the singular-value spectra, the error heatmap and the channel outliers.

#include <QWidget>

#include "widgets/layer_inspection.h"

class QLabel;
class QStackedWidget;
class QTabWidget;

namespace qs::widgets {

class ErrorHeatmap;
class OutlierView;
class SpectrumPlot;

class LayerInspector : public QWidget {
  Q_OBJECT
 public:
  explicit LayerInspector(QWidget* parent = nullptr);
  void set_inspection(const LayerInspection& layer);
  // Shows `message` instead of plots ("no analysis cached for this layer").
  void show_message(const QString& message, const QString& title = {});

  SpectrumPlot* spectrum() const { return spectrum_; }
  ErrorHeatmap* heatmap() const { return heatmap_; }
  OutlierView* outliers() const { return outliers_; }
  QTabWidget* tabs() const { return tabs_; }

 private:
  QLabel* title_;
  QLabel* metrics_;
  QLabel* message_;
  QStackedWidget* stack_;
  QTabWidget* tabs_;
  SpectrumPlot* spectrum_;
  ErrorHeatmap* heatmap_;
  OutlierView* outliers_;
};

}  // namespace qs::widgets
