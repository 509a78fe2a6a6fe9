#include "widgets/plot_support.h"

#include "widgets/qcustomplot_include.h"

#include <QFile>
#include <QFileInfo>
#include <QSvgGenerator>
#include <QFileDialog>
#include <QMenu>
#include <QMessageBox>
#include <QToolTip>
#include <cmath>

namespace qs::widgets {

bool save_svg(QCustomPlot* plot, const QString& path) {
  QSvgGenerator svg;
  svg.setFileName(path);
  svg.setSize(plot->size());
  svg.setViewBox(QRect(QPoint(0, 0), plot->size()));
  svg.setTitle(plot->windowTitle());
  QCPPainter painter;
  if (!painter.begin(&svg)) return false;
  plot->toPainter(&painter, plot->width(), plot->height());
  painter.end();
  return QFileInfo(path).size() > 0;
}

void install_export_menu(QCustomPlot* plot, std::function<QString()> csv) {
  plot->setContextMenuPolicy(Qt::CustomContextMenu);
  QObject::connect(plot, &QWidget::customContextMenuRequested, plot, [plot, csv](const QPoint& pos) {
    QMenu menu(plot);
    menu.addAction(QObject::tr("Save as PNG…"), plot, [plot] {
      const QString f = QFileDialog::getSaveFileName(plot, QObject::tr("Save plot"), QString(), "PNG (*.png)");
      if (!f.isEmpty() && !plot->savePng(f, 0, 0, 2.0))
        QMessageBox::warning(plot, QObject::tr("Save plot"), QObject::tr("Could not write %1").arg(f));
    });
    menu.addAction(QObject::tr("Save as SVG…"), plot, [plot] {
      const QString f = QFileDialog::getSaveFileName(plot, QObject::tr("Save plot"), QString(), "SVG (*.svg)");
      if (!f.isEmpty() && !save_svg(plot, f))
        QMessageBox::warning(plot, QObject::tr("Save plot"), QObject::tr("Could not write %1").arg(f));
    });
    menu.addAction(QObject::tr("Save as PDF…"), plot, [plot] {
      const QString f = QFileDialog::getSaveFileName(plot, QObject::tr("Save plot"), QString(), "PDF (*.pdf)");
      if (!f.isEmpty() && !plot->savePdf(f))
        QMessageBox::warning(plot, QObject::tr("Save plot"), QObject::tr("Could not write %1").arg(f));
    });
    menu.addAction(QObject::tr("Save data as CSV…"), plot, [plot, csv] {
      const QString f = QFileDialog::getSaveFileName(plot, QObject::tr("Save data"), QString(), "CSV (*.csv)");
      if (f.isEmpty()) return;
      QFile out(f);
      if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate) || out.write(csv().toUtf8()) < 0)
        QMessageBox::warning(plot, QObject::tr("Save data"), QObject::tr("Could not write %1").arg(f));
    });
    menu.addSeparator();
    menu.addAction(QObject::tr("Reset zoom"), plot, [plot] {
      plot->rescaleAxes();
      plot->replot();
    });
    menu.exec(plot->mapToGlobal(pos));
  });
}

QString hover_readout(const QCustomPlot* plot, double key) {
  QStringList lines;
  for (int i = 0; i < plot->graphCount(); ++i) {
    const QCPGraph* g = plot->graph(i);
    if (!g->visible() || g->name().isEmpty() || g->data()->isEmpty()) continue;
    auto it = g->data()->findBegin(key, false);
    if (it == g->data()->constEnd()) --it;
    // findBegin gives the first point at or after `key`; the one before may be nearer.
    if (it != g->data()->constBegin() && std::abs((it - 1)->key - key) < std::abs(it->key - key)) --it;
    lines << QStringLiteral("%1: %2 → %3").arg(g->name()).arg(it->key, 0, 'g', 6).arg(it->value, 0, 'g', 6);
  }
  return lines.join('\n');
}

void install_hover_readout(QCustomPlot* plot) {
  QObject::connect(plot, &QCustomPlot::mouseMove, plot, [plot](QMouseEvent* e) {
    const QString text = hover_readout(plot, plot->xAxis->pixelToCoord(e->position().x()));
    if (text.isEmpty())
      QToolTip::hideText();
    else
      QToolTip::showText(e->globalPosition().toPoint(), text, plot);
  });
}

void place_legend_below(QCustomPlot* plot) {
  plot->legend->setVisible(true);
  plot->axisRect()->insetLayout()->take(plot->legend);
  plot->plotLayout()->addElement(1, 0, plot->legend);
  plot->plotLayout()->setRowStretchFactor(1, 0.001);
  plot->legend->setFillOrder(QCPLegend::foColumnsFirst);
  plot->legend->setBorderPen(Qt::NoPen);
}

}  // namespace qs::widgets
