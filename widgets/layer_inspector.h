#pragma once
// The centre inspector for one linear: its title and metrics above tabs with
// the singular-value spectra, the error heatmap, the channel outliers and the
// weights on their grid.

#include <QWidget>

#include "widgets/layer_inspection.h"

class QLabel;
class QStackedWidget;
class QTabWidget;

namespace qs::widgets {

class ErrorHeatmap;
class GridHistogramView;
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
  GridHistogramView* histogram() const { return histogram_; }
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
  GridHistogramView* histogram_;
};

}  // namespace qs::widgets
