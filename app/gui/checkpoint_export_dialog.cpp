#include "app/gui/checkpoint_export_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMetaObject>
#include <QPushButton>
#include <QThread>
#include <QToolButton>
#include <QVBoxLayout>
#include <exception>
#include <new>

#include "app/gui/background_priority.h"
#include "core/checkpoint/packed_export.h"
#include "core/error.h"
#if QS_WITH_HDF5
#include "core/project/project_file.h"
#include "core/project/project_provenance.h"
#endif

namespace qs::app {
namespace {

struct FormatInfo {
  const char* name;
  const char* who;
};

constexpr FormatInfo kFormats[] = {
    {"compressed-tensors", "pack-quantized safetensors: vLLM, HF transformers (compressed-tensors), llm-compressor"},
    {"gptq", "GPTQ v1 safetensors: GPTQModel / AutoGPTQ, HF transformers, vLLM (2, 3, 4, 8 bits)"},
    {"gptq-v2",
     "GPTQModel v2 safetensors (zero points as they are, so asymmetric AWQ fits): GPTQModel, HF transformers"},
    {"awq", "AutoAWQ GEMM safetensors: AutoAWQ, vLLM, HF transformers (4 bits only)"},
    {"gguf", "GGUF (Q4_0, Q4_1, Q8_0, F16): llama.cpp, Ollama, LM Studio"},
    {"fake-quant",
     "dequantized dense safetensors, no memory saved: anything that loads the FP model "
     "(evaluation harnesses, other methods' code)"},
};

QString report_text(const checkpoint::ExportReport& r, const QString& dir) {
  QString text = QObject::tr("Wrote %1 quantized linears (%2 kept in FP), %3 MiB of weights, to %4.")
                     .arg(r.quantized_linears)
                     .arg(r.kept_fp.size())
                     .arg(static_cast<double>(r.bytes) / (1024.0 * 1024.0), 0, 'f', 1)
                     .arg(dir);
  if (r.adapters > 0) text += QObject::tr(" %1 low-rank side branches as a PEFT adapter in adapter/.").arg(r.adapters);
  for (const auto& note : r.notes) text += "\n" + QObject::tr("Note: %1.").arg(QString::fromStdString(note));
  return text;
}

}  // namespace

CheckpointExportDialog::CheckpointExportDialog(ExportSource source, QWidget* parent)
    : QDialog(parent),
      source_(std::move(source)),
      format_(new QComboBox(this)),
      dtype_(new QComboBox(this)),
      destination_(new QLineEdit(this)),
      plan_(new QLabel(this)),
      status_(new QLabel(this)),
      export_(new QPushButton(tr("Export"), this)) {
  setWindowTitle(tr("Export quantized checkpoint"));
  for (const auto& f : kFormats) {
    format_->addItem(QString::fromLatin1(f.name));
    format_->setItemData(format_->count() - 1, QString::fromLatin1(f.who), Qt::ToolTipRole);
  }
  dtype_->addItems({"float16", "bfloat16", "float32"});
  dtype_->setToolTip(tr("dtype of the scales and of the tensors kept unquantized"));
  destination_->setPlaceholderText(tr("directory to write (created when missing)"));
  auto* browse = new QToolButton(this);
  browse->setText(QStringLiteral("…"));
  connect(browse, &QToolButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Export to"), destination_->text());
    if (!dir.isEmpty()) destination_->setText(dir);
  });
  auto* dest_row = new QHBoxLayout;
  dest_row->addWidget(destination_, 1);
  dest_row->addWidget(browse);
  plan_->setWordWrap(true);
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  export_->setObjectName("exportButton");
  export_->setDefault(true);

  auto* form = new QFormLayout;
  form->addRow(tr("Format"), format_);
  form->addRow(tr("Scales dtype"), dtype_);
  form->addRow(tr("Destination"), dest_row);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  buttons->addButton(export_, QDialogButtonBox::ActionRole);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(export_, &QPushButton::clicked, this, &CheckpointExportDialog::start_export);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(new QLabel(tr("<b>%1</b>").arg(source_.summary.toHtmlEscaped()), this));
  layout->addLayout(form);
  layout->addWidget(plan_);
  layout->addWidget(status_);
  layout->addWidget(buttons);
  connect(format_, &QComboBox::currentIndexChanged, this, &CheckpointExportDialog::update_plan);
  connect(destination_, &QLineEdit::textChanged, this, &CheckpointExportDialog::update_plan);
  update_plan();
  resize(620, sizeHint().height());
}

CheckpointExportDialog::~CheckpointExportDialog() { done(); }

void CheckpointExportDialog::set_format(const QString& format) { format_->setCurrentText(format); }

void CheckpointExportDialog::set_destination(const QString& dir) { destination_->setText(dir); }

QString CheckpointExportDialog::status_text() const { return status_->text(); }

void CheckpointExportDialog::update_plan() {
  const bool gguf = format_->currentText() == QLatin1String("gguf");
  const bool fake_quant = format_->currentText() == QLatin1String("fake-quant");
  dtype_->setEnabled(!gguf);
  QString text = gguf         ? tr("Writes model.gguf (tokenizer in its metadata) and README.md.")
                 : fake_quant ? tr("Writes config.json, model.safetensors with every quantized weight dequantized "
                                   "(transforms and side branches folded in; past 5 GB, numbered shards with an "
                                   "index), the tokenizer files and README.md.")
                              : tr("Writes config.json with its quantization_config, model.safetensors (past 5 GB, "
                                   "numbered shards with an index), the tokenizer files and README.md; side "
                                   "branches go to a PEFT adapter in adapter/.");
  const QString dir = destination_->text();
  if (!dir.isEmpty() && QDir(dir).exists() && !QDir(dir).isEmpty(QDir::AllEntries | QDir::NoDotAndDotDot))
    text += tr(" The directory is not empty: files of the same names are replaced.");
  plan_->setText(text);
  export_->setEnabled(!busy() && !dir.isEmpty());
}

void CheckpointExportDialog::start_export() {
  if (busy() || destination_->text().isEmpty()) return;
  checkpoint::ExportOptions o;
  o.format = checkpoint::parse_format(format_->currentText().toStdString());
  const QString dtype = dtype_->currentText();
  o.dtype = dtype == "bfloat16" ? torch::kBFloat16 : dtype == "float32" ? torch::kFloat32 : torch::kFloat16;
  o.tokenizer_source = source_.tokenizer_source;
  o.provenance = source_.provenance;
  const QString dir = destination_->text();
  const auto source = source_;
  status_->setText(tr("Exporting…"));
  export_->setEnabled(false);
  thread_ = QThread::create([this, source, o, dir]() mutable {
    lower_current_thread_priority();
    QString message, report;
    try {
      if (!source.decoder) {
#if QS_WITH_HDF5
        if (!source.project_path.isEmpty())
          o.provenance = project::provenance_of(project::load_project(source.project_path.toStdString()),
                                                source.project_path.toStdString());
#endif
        if (source.project_path.isEmpty()) o.provenance = checkpoint::read_provenance(source.weights->source);
      }
      auto decoder = source.decoder;
      if (!decoder) decoder = std::make_shared<const model::Decoder>(*source.weights, torch::kCPU, torch::kFloat32);
      report = report_text(checkpoint::export_checkpoint(*decoder, o, dir.toStdString()), dir);
    } catch (const c10::Error& e) {
      message = tr("Error in torch: %1").arg(QString::fromUtf8(e.what_without_backtrace()));
    } catch (const std::bad_alloc&) {
      message = tr("Out of memory while exporting.");
    } catch (const std::exception& e) {
      message = QString::fromUtf8(e.what());
    }
    QMetaObject::invokeMethod(
        this,
        [this, dir, message, report] {
          done();
          update_plan();
          if (message.isEmpty()) {
            status_->setText(report);
            Q_EMIT exported(dir, report);
          } else {
            status_->setText(tr("<span style='color:#c62828'>%1</span>").arg(message.toHtmlEscaped()));
            Q_EMIT failed(message);
          }
        },
        Qt::QueuedConnection);
  });
  thread_->start();
}

void CheckpointExportDialog::done() {
  if (!thread_) return;
  thread_->wait();
  delete thread_;
  thread_ = nullptr;
}

}  // namespace qs::app
