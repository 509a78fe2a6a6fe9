#include "widgets/model_summary_view.h"

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

namespace qs::widgets {

ModelSummaryView::ModelSummaryView(QWidget* parent)
    : QWidget(parent), title_(new QLabel(this)), facts_(new QTableWidget(this)) {
  title_->setWordWrap(true);
  title_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  QFont f = title_->font();
  f.setPointSizeF(f.pointSizeF() * 1.3);
  title_->setFont(f);
  facts_->setColumnCount(2);
  facts_->horizontalHeader()->setVisible(false);
  facts_->verticalHeader()->setVisible(false);
  facts_->horizontalHeader()->setStretchLastSection(true);
  facts_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  facts_->setSelectionMode(QAbstractItemView::NoSelection);
  facts_->setShowGrid(false);
  facts_->setAlternatingRowColors(true);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(title_);
  layout->addWidget(facts_, 1);
  show_message(tr("Open a model (File → Open Model…, Ctrl+O): a .gguf file or a Hugging Face "
                  "safetensors directory."));
}

void ModelSummaryView::set_outline(const ModelOutline& outline) {
  title_->setText(outline.path);
  facts_->setRowCount(static_cast<int>(outline.facts.size()));
  for (int i = 0; i < outline.facts.size(); ++i) {
    auto* key = new QTableWidgetItem(outline.facts[i].first);
    QFont bold = key->font();
    bold.setBold(true);
    key->setFont(bold);
    facts_->setItem(i, 0, key);
    facts_->setItem(i, 1, new QTableWidgetItem(outline.facts[i].second));
  }
  facts_->resizeColumnToContents(0);
  facts_->setVisible(true);
}

void ModelSummaryView::show_message(const QString& text) {
  title_->setText(text);
  facts_->setRowCount(0);
  facts_->setVisible(false);
}

}  // namespace qs::widgets
