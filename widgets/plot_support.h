#pragma once
// What every inspector plot shares: a context menu that saves the picture as
// PNG, SVG or PDF and the data behind it as CSV, and the legend's place.

#include <QString>
#include <QStringList>
#include <functional>

class QCustomPlot;

namespace qs::widgets {

// `csv` returns the plot's data as CSV text (header line first).
void install_export_menu(QCustomPlot* plot, std::function<QString()> csv);

// The plot as it is drawn, as vector SVG; false when `path` cannot be written.
bool save_svg(QCustomPlot* plot, const QString& path);

// Shows, while the mouse moves over the plot, each named graph's data point
// nearest the cursor's x as a tooltip.
void install_hover_readout(QCustomPlot* plot);
// That read-out's text at axis coordinate `key` (empty when no graph has data).
QString hover_readout(const QCustomPlot* plot, double key);

// Moves the legend into a row below the axes, entries side by side: inside
// the axes it hides data.
void place_legend_below(QCustomPlot* plot);

}  // namespace qs::widgets
