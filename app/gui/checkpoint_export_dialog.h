#pragma once
// File > Export…: writes the session's quantized model as a packed checkpoint
// other tools load (core/checkpoint: compressed-tensors for vLLM and HF
// transformers, GPTQ v1, AutoAWQ GEMM, GGUF for llama.cpp), on a worker
// thread. Says before writing what goes where, and after it what was written;
// a model the format cannot hold is refused with the layer and the reason,
// and the destination is left as it was.

#include <QDialog>
#include <filesystem>
#include <memory>
#include <string>

#include "core/checkpoint/provenance.h"
#include "core/model/decoder.h"
#include "core/model/model_weights.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QThread;

namespace qs::app {

struct ExportSource {
  // A finished run's quantized model, or (when null) `weights` with their
  // quantized records (an opened project), made into a decoder off the GUI thread.
  std::shared_ptr<const model::Decoder> decoder;
  std::shared_ptr<const model::ModelWeights> weights;
  std::filesystem::path tokenizer_source;  // model file or directory whose tokenizer is copied
  // How it was made, for the card and quantscope_provenance.json: a finished
  // run's; for `weights`, read off the GUI thread from `project_path` when
  // set, else from the weights' source.
  checkpoint::Provenance provenance;
  QString project_path;
  QString summary;  // what is exported: "210 linears: gptq W4g128 …"
};

class CheckpointExportDialog : public QDialog {
  Q_OBJECT
 public:
  explicit CheckpointExportDialog(ExportSource source, QWidget* parent = nullptr);
  // Waits for an export in progress.
  ~CheckpointExportDialog() override;

  // "compressed-tensors", "gptq", "gptq-v2", "awq" or "gguf".
  void set_format(const QString& format);
  void set_destination(const QString& dir);
  void start_export();
  bool busy() const { return thread_ != nullptr; }
  QString status_text() const;

 Q_SIGNALS:
  void exported(const QString& dir, const QString& report);
  void failed(const QString& message);

 private:
  void update_plan();
  void done();

  ExportSource source_;
  QComboBox* format_;
  QComboBox* dtype_;
  QLineEdit* destination_;
  QLabel* plan_;
  QLabel* status_;
  QPushButton* export_;
  QThread* thread_ = nullptr;
};

}  // namespace qs::app
