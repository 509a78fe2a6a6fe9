#pragma once
// The block-by-block runner every method goes through. For each block:
// FP targets on the current inputs (from the method's first input capture
// when it reads FP inputs), the plan's methods on their linears
// (stage-0 transforms first), per-layer and per-block metrics, and the
// quantized block's outputs as the next block's inputs. Only one block's
// activations are alive at a time. After the last block, the refinements the
// plan composes ("then") run over the whole quantized model, fitted to the FP
// model's last hidden states captured before the first block. On cancel or
// error the decoder is put back exactly as it was; a journal keeps the blocks
// finished by then.

#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/feedback.h"
#include "core/model/decoder.h"
#include "core/pipeline/quant_plan.h"
#include "core/quant/quantized_linear.h"
#include "core/text/calibration_set.h"

namespace qs::pipeline {

struct BlockResult;
class RunJournal;

struct PipelineOptions {
  int64_t batch = 8;  // calibration sequences per forward pass
  // Per-layer output errors are measured on the first this many calibration
  // sequences (0: all). Measuring costs one extra product per linear, as much
  // as a forward pass over the sequences measured.
  int64_t metric_sequences = 8;
  // Also compute each quantized linear's inspector analyses (spectra, error
  // map, input statistics on the metric sequences): three SVDs per linear.
  bool analyses = false;
  // Called after each block, on the pipeline's thread, with blocks 0..layer of
  // the decoder quantized and the rest still FP: the place for a live
  // perplexity of the partly quantized model (run it without gradients). May
  // throw qs::Cancelled; the decoder is then restored as for any cancel.
  std::function<void(const BlockResult&)> on_block;
  // Where each finished block is recorded, and whose finished blocks the run
  // takes instead of quantizing them again (run_journal.h); none when null.
  RunJournal* journal = nullptr;
  // Where the codes of finished blocks go to leave memory (io::spill_to_file:
  // unlinked at once, so nothing is left behind); empty: they stay in memory.
  // A model larger than memory holds more codes than memory (8B parameters
  // are 7.5 GiB of one-byte codes).
  std::filesystem::path spill_dir;
  // Mixture of Experts: every expert runs on every calibration token, so its
  // Hessian and statistics see them all, while blocks still combine only the
  // router's choices (llm-compressor's remedy for experts calibration rarely
  // reaches). Costs an expert forward per token and expert instead of top-k.
  bool route_all_experts = false;
};

// Per-layer metrics are the block stage's; a refinement replaces `record`.
struct LayerResult {
  std::string name;  // "model.layers.3.mlp.up_proj"
  int64_t layer = 0;
  model::LinearRole role = model::LinearRole::Q;
  LayerChoice choice;
  std::shared_ptr<const quant::QuantizedLinear> record;  // null when kept in FP
  double weight_mse = 0.0;                               // mean (W - W_q)² against the weight the method quantized
  double output_rel_mse = 0.0;  // ‖x W_qᵀ − x Wᵀ‖² / ‖x Wᵀ‖², x: inputs of the metric sequences
  double seconds = 0.0;
  std::map<std::string, torch::Tensor> analyses;  // see analysis/layer_analysis.h; empty unless asked
};

struct BlockResult {
  int64_t layer = 0;
  double output_mse = 0.0;  // against the FP block on the same inputs, all sequences
  double output_rel_mse = 0.0;
  // Against the FP model's own output at this depth: the error the next block
  // inherits. Measured only where some method follows the FP trajectory (NaN
  // elsewhere), since it costs an FP forward pass of every block.
  double fp_rel_mse = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0.0;
  // Mixture of Experts: the calibration tokens the router sent to each expert
  // of the block (the FP block's choices on the block's inputs); empty for a
  // dense block.
  std::vector<int64_t> expert_tokens;
};

// Experts of `r` that received fewer calibration tokens than `inputs`, the
// width of their inputs: fewer tokens than that leave their Hessian rank-deficient.
std::vector<int64_t> starved_experts(const BlockResult& r, int64_t inputs);

struct RefinementResult {
  std::string method;  // "rilq"
  int64_t linears = 0;
  double seconds = 0.0;
  std::map<std::string, double> reported;  // what the refinement measured ("rilq best validation loss")
};

struct PipelineResult {
  std::vector<LayerResult> layers;  // in model order
  std::vector<BlockResult> blocks;
  std::vector<RefinementResult> refinements;
  double seconds = 0.0;
};

// Quantizes `decoder` in place. Throws qs::Cancelled / qs::Error / ConfigError
// with the decoder restored.
PipelineResult run_pipeline(model::Decoder& decoder, const text::CalibrationSet& calibration, const QuantPlan& plan,
                            const PipelineOptions& options, Feedback& feedback);

}  // namespace qs::pipeline
