#pragma once
// What a refinement sees of the quantized model: the decoder with every block
// quantized, the calibration sequences, the FP model's last hidden states on
// them (captured before anything was quantized), the quantized linears it was
// given, and a way to replace their records. The pipeline reads back what was
// committed and what was reported.

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/feedback.h"
#include "core/model/decoder.h"
#include "core/model/quantized_linear_op.h"
#include "core/quant/quantized_linear.h"

namespace qs::methods {

struct LinearSlot {
  int64_t layer = 0;
  model::LinearRole role = model::LinearRole::Q;
  bool operator<(const LinearSlot& o) const { return std::pair(layer, role) < std::pair(o.layer, o.role); }
};

class ModelContext {
 public:
  // ids: [N, L] int64; fp_hidden: [N, L, hidden], the FP model's
  // Decoder::final_hidden on them. Every slot must hold a QuantizedLinearOp.
  ModelContext(model::Decoder& decoder, torch::Tensor ids, torch::Tensor fp_hidden, std::vector<LinearSlot> slots,
               Feedback& feedback);

  model::Decoder& decoder() { return decoder_; }
  const torch::Tensor& ids() const { return ids_; }
  const torch::Tensor& fp_hidden() const { return fp_hidden_; }
  const std::vector<LinearSlot>& assigned() const { return slots_; }
  Feedback& feedback() { return feedback_; }
  void check_cancelled() const { feedback_.check_cancelled(); }

  // The record the slot holds now.
  std::shared_ptr<const quant::QuantizedLinear> record(const LinearSlot& slot) const;
  // Installs `q` in the decoder in place of the slot's record.
  void commit(const LinearSlot& slot, quant::QuantizedLinear q);
  // A number the run reports beside the per-layer metrics ("best validation loss").
  void report(const std::string& key, double value) { reported_[key] = value; }

  // Where the refinement may keep its training state, so that a run cut short
  // goes on from it when the same run starts again; empty: nowhere. The file
  // belongs to a run journal (run_journal.h), whose request pins the model,
  // plan and calibration.
  const std::filesystem::path& state_file() const { return state_file_; }
  void set_state_file(std::filesystem::path file) { state_file_ = std::move(file); }

  const std::map<LinearSlot, std::shared_ptr<const quant::QuantizedLinear>>& committed() const { return committed_; }
  const std::map<std::string, double>& reported() const { return reported_; }

 private:
  model::Decoder& decoder_;
  torch::Tensor ids_;
  torch::Tensor fp_hidden_;
  std::vector<LinearSlot> slots_;
  Feedback& feedback_;
  std::map<LinearSlot, std::shared_ptr<const quant::QuantizedLinear>> committed_;
  std::map<std::string, double> reported_;
  std::filesystem::path state_file_;
};

}  // namespace qs::methods
