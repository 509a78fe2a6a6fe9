#include "widgets/issues_view.h"

#include <QHeaderView>
#include <QMenu>
#include <QRegularExpression>
#include <QStyle>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace qs::widgets {
namespace {

constexpr int kLayerRole = Qt::UserRole;

}  // namespace

QString layer_named_in(const QString& message) {
  static const QRegularExpression re(
      QStringLiteral(R"((model\.layers\.\d+\.(?:self_attn|mlp)\.[a-z_]+_proj|lm_head))"));
  const auto m = re.match(message);
  return m.hasMatch() ? m.captured(1) : QString();
}

IssuesView::IssuesView(QWidget* parent) : QWidget(parent), list_(new QTreeWidget(this)) {
  list_->setColumnCount(4);
  list_->setHeaderLabels({tr("Time"), tr("Where"), tr("Message"), tr("Layer")});
  list_->setRootIsDecorated(false);
  list_->setWordWrap(true);
  list_->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  list_->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
  list_->header()->setSectionResizeMode(2, QHeaderView::Stretch);
  list_->header()->setSectionResizeMode(3, QHeaderView::ResizeToContents);
  list_->header()->setStretchLastSection(false);
  list_->setContextMenuPolicy(Qt::CustomContextMenu);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(list_);
  connect(list_, &QTreeWidget::itemDoubleClicked, this, [this](QTreeWidgetItem* item) {
    const QString name = item->data(0, kLayerRole).toString();
    if (!name.isEmpty()) Q_EMIT go_to_layer(name);
  });
  connect(list_, &QWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
    auto* item = list_->itemAt(pos);
    if (!item) return;
    QMenu menu(this);
    const QString name = item->data(0, kLayerRole).toString();
    QAction* go = menu.addAction(tr("Go to Layer %1").arg(name), this, [this, name] { Q_EMIT go_to_layer(name); });
    go->setEnabled(!name.isEmpty());
    menu.addAction(tr("Clear All"), this, &IssuesView::clear);
    menu.exec(list_->viewport()->mapToGlobal(pos));
  });
}

void IssuesView::add(const Issue& issue) {
  // The same issue again (a layer clicked twice) moves to the end with its new time.
  for (int i = 0; i < list_->topLevelItemCount(); ++i) {
    const auto* old = list_->topLevelItem(i);
    if (old->text(1) == issue.source && old->text(2) == issue.message && old->data(0, kLayerRole) == issue.layer) {
      delete list_->takeTopLevelItem(i);
      break;
    }
  }
  auto* item = new QTreeWidgetItem(list_, {issue.when.toString("HH:mm:ss"), issue.source, issue.message, issue.layer});
  item->setIcon(0, style()->standardIcon(issue.severity == Issue::Severity::Error ? QStyle::SP_MessageBoxCritical
                                                                                  : QStyle::SP_MessageBoxWarning));
  item->setData(0, kLayerRole, issue.layer);
  item->setToolTip(2, issue.message);
  if (!issue.layer.isEmpty()) item->setToolTip(3, tr("Double-click to go to this layer"));
  list_->scrollToItem(item);
  Q_EMIT count_changed(count());
}

void IssuesView::clear() {
  list_->clear();
  Q_EMIT count_changed(0);
}

int IssuesView::count() const { return list_->topLevelItemCount(); }

QString IssuesView::message(int row) const { return list_->topLevelItem(row)->text(2); }

QString IssuesView::layer(int row) const { return list_->topLevelItem(row)->data(0, kLayerRole).toString(); }

}  // namespace qs::widgets
