#include "widgets/compare_view.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>

#include "widgets/spectrum_plot.h"

namespace qs::widgets {
namespace {

QColor entry_color(int i) {
  static const QColor palette[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),
                                   QColor(214, 39, 40),  QColor(148, 103, 189), QColor(140, 86, 75)};
  return palette[i % 6];
}

QTableWidgetItem* number(double v, char format, int precision) {
  auto* item = new QTableWidgetItem(QString::number(v, format, precision));
  item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
  return item;
}

}  // namespace

CompareView::CompareView(QWidget* parent)
    : QWidget(parent),
      title_(new QLabel(this)),
      methods_(new QListWidget(this)),
      compare_(new QPushButton(tr("Compare"), this)),
      cancel_(new QPushButton(tr("Cancel"), this)),
      status_(new QLabel(this)),
      table_(new QTableWidget(this)),
      spectrum_(new SpectrumPlot(this)) {
  title_->setText(tr("Select a linear in the Model dock, tick methods and press Compare."));
  title_->setWordWrap(true);
  status_->setWordWrap(true);
  methods_->setMaximumWidth(180);
  methods_->setToolTip(tr("Each ticked method runs on this linear alone, on the method panel's grid and "
                          "calibration text, with its default hyper-parameters"));
  compare_->setObjectName("compareButton");
  cancel_->setEnabled(false);
  table_->setColumnCount(5);
  table_->setHorizontalHeaderLabels({tr("Method"), tr("Output rel. MSE"), tr("× best"), tr("Weight MSE"), tr("Time (s)")});
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->verticalHeader()->setVisible(false);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);

  auto* left = new QVBoxLayout;
  left->addWidget(methods_, 1);
  left->addWidget(compare_);
  left->addWidget(cancel_);
  auto* right = new QSplitter(Qt::Vertical, this);
  right->addWidget(table_);
  right->addWidget(spectrum_);
  right->setStretchFactor(0, 1);
  right->setStretchFactor(1, 3);
  auto* body = new QHBoxLayout;
  body->addLayout(left);
  body->addWidget(right, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(title_);
  layout->addWidget(status_);
  layout->addLayout(body, 1);

  connect(compare_, &QPushButton::clicked, this, [this] { Q_EMIT compare_requested(checked_methods()); });
  connect(cancel_, &QPushButton::clicked, this, &CompareView::cancel_requested);
}

void CompareView::set_methods(const QStringList& names, const QStringList& checked) {
  methods_->clear();
  for (const auto& n : names) {
    auto* item = new QListWidgetItem(n, methods_);
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    item->setCheckState(checked.contains(n) ? Qt::Checked : Qt::Unchecked);
  }
}

QStringList CompareView::checked_methods() const {
  QStringList out;
  for (int i = 0; i < methods_->count(); ++i)
    if (methods_->item(i)->checkState() == Qt::Checked) out.append(methods_->item(i)->text());
  return out;
}

void CompareView::set_layer(const QString& name) {
  layer_ = name;
  title_->setText(tr("<b>Compare methods on %1</b>").arg(name));
}

void CompareView::set_running(const QString& what) {
  status_->setText(what);
  compare_->setEnabled(false);
  cancel_->setEnabled(true);
}

void CompareView::set_failed(const QString& message) {
  status_->setText(tr("<span style='color:#c62828'>%1</span>").arg(message.toHtmlEscaped()));
  compare_->setEnabled(true);
  cancel_->setEnabled(false);
}

void CompareView::set_entries(const QVector<CompareEntry>& entries) {
  compare_->setEnabled(true);
  cancel_->setEnabled(false);
  table_->setRowCount(static_cast<int>(entries.size()));
  double best = 0;
  for (const auto& e : entries) best = best == 0 ? e.output_rel_mse : std::min(best, e.output_rel_mse);
  QVector<SpectrumSeries> series;
  bool scaled = true;
  for (int i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    auto* label = new QTableWidgetItem(e.label);
    label->setForeground(entry_color(i));
    table_->setItem(i, 0, label);
    table_->setItem(i, 1, number(e.output_rel_mse, 'e', 3));
    table_->setItem(i, 2, number(best > 0 ? e.output_rel_mse / best : 1.0, 'f', 2));
    table_->setItem(i, 3, number(e.weight_mse, 'e', 3));
    table_->setItem(i, 4, number(e.seconds, 'f', 2));
    scaled = scaled && !e.sv_scaled_error.isEmpty();
    series.append({e.label, e.sv_scaled_error.isEmpty() ? e.sv_error : e.sv_scaled_error, entry_color(i),
                   e.sv_scaled_error.isEmpty() ? e.sv_error_energy : e.sv_scaled_error_energy});
  }
  spectrum_->set_series(series);
  status_->setText(entries.isEmpty()
                       ? tr("No method ticked.")
                       : tr("Lower is better; × best is each method's output error over the best one's. Spectra: "
                            "singular values of each method's error %1.")
                             .arg(scaled ? tr("as the layer's inputs weigh it, diag(s)·E") : tr("E = W − Q(W)")));
}

int CompareView::table_rows() const { return table_->rowCount(); }

QString CompareView::status() const { return status_->text(); }

}  // namespace qs::widgets
