#pragma once
// The context menu every inspector plot shares: save the picture as PNG or
// PDF and the data behind it as CSV.

#include <QString>
#include <functional>

class QCustomPlot;

namespace qs::widgets {

// `csv` returns the plot's data as CSV text (header line first).
void install_export_menu(QCustomPlot* plot, std::function<QString()> csv);

}  // namespace qs::widgets
