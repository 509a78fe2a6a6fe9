#include "widgets/model_tree_view.h"

#include <QHeaderView>
#include <QLineEdit>
#include <QPainter>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace qs::widgets {
namespace {

constexpr int kRunMethodRole = Qt::UserRole + 1;

// Green below 0.2 %, amber below 1 %, red above: the relative output MSE
// ranges at which 4-bit layers are typically harmless, noticeable, harmful.
QIcon error_badge(double rel_mse) {
  const QColor c = rel_mse < 2e-3 ? QColor(44, 160, 44) : rel_mse < 1e-2 ? QColor(230, 160, 20) : QColor(214, 39, 40);
  QPixmap pm(10, 10);
  pm.fill(Qt::transparent);
  QPainter p(&pm);
  p.setRenderHint(QPainter::Antialiasing);
  p.setBrush(c);
  p.setPen(Qt::NoPen);
  p.drawEllipse(1, 1, 8, 8);
  return QIcon(pm);
}

}  // namespace

ModelTreeView::ModelTreeView(QWidget* parent)
    : QWidget(parent), filter_(new QLineEdit(this)), tree_(new QTreeWidget(this)) {
  filter_->setPlaceholderText(tr("Filter layers (e.g. down_proj, 12.)"));
  filter_->setClearButtonEnabled(true);
  tree_->setColumnCount(5);
  tree_->setHeaderLabels({tr("Layer"), tr("Shape (out × in)"), tr("Stored"), tr("Method"), tr("Output error")});
  // Names and shapes are short and must never be elided; the dock scrolls instead.
  tree_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
  tree_->header()->setStretchLastSection(true);
  tree_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  tree_->setUniformRowHeights(true);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(filter_);
  layout->addWidget(tree_);
  connect(filter_, &QLineEdit::textChanged, this, &ModelTreeView::apply_filter);
  connect(tree_, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* item) {
    if (item && item->parent()) Q_EMIT linear_selected(item->data(0, Qt::UserRole).toString());
  });
  connect(tree_, &QTreeWidget::itemSelectionChanged, this,
          [this] { Q_EMIT selection_changed(static_cast<int>(selected_linears().size())); });
}

void ModelTreeView::set_outline(const ModelOutline& outline) {
  tree_->clear();
  for (const auto& block : outline.blocks) {
    auto* b = new QTreeWidgetItem(tree_, {tr("Block %1").arg(block.index)});
    for (const auto& l : block.linears) {
      auto* item = new QTreeWidgetItem(
          b, {l.label, QStringLiteral("%1 × %2").arg(l.out_features).arg(l.in_features), l.stored_dtype});
      item->setData(0, Qt::UserRole, l.name);
      item->setToolTip(0, l.name);
      item->setText(3, l.method);
      item->setData(3, kRunMethodRole, l.method);
      if (l.output_rel_mse >= 0) {
        item->setText(4, QString::number(l.output_rel_mse, 'e', 2));
        item->setIcon(4, error_badge(l.output_rel_mse));
        item->setToolTip(4, tr("Relative MSE of the layer's output on the calibration inputs"));
      }
    }
  }
  if (tree_->topLevelItemCount() > 0) tree_->topLevelItem(0)->setExpanded(true);
  apply_filter(filter_->text());
}

void ModelTreeView::clear() { tree_->clear(); }

bool ModelTreeView::select(const QString& name) {
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) {
    auto* block = tree_->topLevelItem(i);
    for (int j = 0; j < block->childCount(); ++j) {
      auto* leaf = block->child(j);
      if (leaf->data(0, Qt::UserRole).toString() != name) continue;
      block->setExpanded(true);
      tree_->setCurrentItem(leaf);
      tree_->scrollToItem(leaf);
      return true;
    }
  }
  return false;
}

void ModelTreeView::apply_filter(const QString& text) {
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) {
    auto* block = tree_->topLevelItem(i);
    bool any = false;
    for (int j = 0; j < block->childCount(); ++j) {
      auto* leaf = block->child(j);
      const bool match = text.isEmpty() || leaf->data(0, Qt::UserRole).toString().contains(text, Qt::CaseInsensitive);
      leaf->setHidden(!match);
      any = any || match;
    }
    block->setHidden(!any);
    if (!text.isEmpty()) block->setExpanded(any);
  }
}

template <typename F>
void ModelTreeView::for_each_linear(F&& f) const {
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) {
    auto* block = tree_->topLevelItem(i);
    for (int j = 0; j < block->childCount(); ++j) f(block, block->child(j));
  }
}

QStringList ModelTreeView::selected_linears() const {
  QStringList names;
  for_each_linear([&](QTreeWidgetItem* block, QTreeWidgetItem* leaf) {
    if (leaf->isSelected() || (block->isSelected() && !leaf->isHidden()))
      names.append(leaf->data(0, Qt::UserRole).toString());
  });
  return names;
}

void ModelTreeView::select_linears(const QStringList& names) {
  const QSignalBlocker block_signals(tree_);
  tree_->clearSelection();
  for_each_linear([&](QTreeWidgetItem* block, QTreeWidgetItem* leaf) {
    if (!names.contains(leaf->data(0, Qt::UserRole).toString())) return;
    block->setExpanded(true);
    leaf->setSelected(true);
  });
  Q_EMIT selection_changed(static_cast<int>(selected_linears().size()));
}

void ModelTreeView::set_planned(const QMap<QString, QString>& labels) {
  for_each_linear([&](QTreeWidgetItem*, QTreeWidgetItem* leaf) {
    const auto it = labels.constFind(leaf->data(0, Qt::UserRole).toString());
    const bool planned = it != labels.constEnd();
    leaf->setText(3, planned ? *it : leaf->data(3, kRunMethodRole).toString());
    QFont f = leaf->font(3);
    f.setItalic(planned);
    leaf->setFont(3, f);
    leaf->setToolTip(3, planned ? tr("Set for the next run (Edit > Undo takes it back)") : QString());
  });
}

QString ModelTreeView::method_text(const QString& name) const {
  QString text;
  for_each_linear([&](QTreeWidgetItem*, QTreeWidgetItem* leaf) {
    if (leaf->data(0, Qt::UserRole).toString() == name) text = leaf->text(3);
  });
  return text;
}

int ModelTreeView::visible_linear_count() const {
  int n = 0;
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) {
    const auto* block = tree_->topLevelItem(i);
    for (int j = 0; j < block->childCount(); ++j) n += block->child(j)->isHidden() ? 0 : 1;
  }
  return n;
}

}  // namespace qs::widgets
