#pragma once
// A quantization run's journal: after each block, that block's tensors (as
// the checkpoint stores them, checkpoint/block_tensors.h), its metrics and its
// linears' inspector analyses, so a run ended by a crash, a kill or a cancel
// goes on from the block after the last one written instead of from the
// first. The blocks before are not quantized again: the pipeline recomputes
// their outputs on the FP and the quantized trajectory with one forward pass
// each, which is what the interrupted run held in memory, so a resumed run
// ends with the model an uninterrupted one would have.
//   DIR/journal.json            format, version, the request, per finished
//                               block its metrics and its linears' entries
//   DIR/block_<L>.safetensors   the block's tensors and analyses
// The request is what fixes the run's result (model, plan, calibration,
// device, dtype, ...) as a JSON object; only the same request continues a
// journal.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/model/decoder.h"
#include "core/pipeline/pipeline.h"

namespace qs::pipeline {

inline constexpr int kJournalFormatVersion = 1;

// What fixes a quantization run's result.
struct RunIdentity {
  std::filesystem::path model;      // as opened; for a refinement, the FP model
  std::filesystem::path quantized;  // a refinement's quantized model; empty for a pipeline run
  std::string plan_json;            // QuantPlan::to_json()
  std::filesystem::path calibration_text;
  int64_t nsamples = 0;
  int64_t seqlen = 0;
  uint64_t seed = 0;
  std::string device;  // "cpu", "cuda:0"
  std::string dtype;   // "fp32", "fp16", "bf16"
  int64_t batch = 0;
  bool analyses = false;
  bool all_experts = false;  // PipelineOptions::route_all_experts
};

// `run` as a journal's request, with the model (and the quantized model) and
// the calibration text by absolute path and content fingerprint
// (io/file_fingerprint.h), and the model's tokenizer files by fingerprint, so
// a replaced file does not continue a journal. Throws qs::IoError naming a file that cannot be read.
nlohmann::ordered_json journal_request(const RunIdentity& run);

// A directory name for the journal of `request`, the same for equal requests:
// "run-" and 16 hex digits of its hash.
std::string journal_name(const nlohmann::ordered_json& request);

// The finished blocks 0..n-1 of an earlier run, for one decoder's device and dtype.
struct JournalBlocks {
  std::vector<model::BlockState> states;
  std::vector<BlockResult> blocks;
  // Each block's in its linear_roles order, with records, metrics and
  // analyses; the choices are left to the pipeline, which has the plan.
  std::vector<LayerResult> layers;
};

// Deletes the journal in `dir` (its files, then the directory when nothing
// else is in it). Throws qs::IoError when journal.json stays.
void remove_journal(const std::filesystem::path& dir);

// Of the journals named by journal_name() under `root`, keeps `current` and
// the `keep` most recently written and deletes the others: each holds a
// quantized copy of its model. Errors are left for the next call.
void prune_journals(const std::filesystem::path& root, const std::filesystem::path& current, size_t keep);

class RunJournal {
 public:
  // Reads DIR/journal.json when there is one. Throws qs::ArgumentError when
  // it was written for another request (naming the first field that differs
  // and both values), qs::FormatError naming the file and field when it is
  // damaged, qs::IoError when it cannot be read.
  RunJournal(std::filesystem::path dir, nlohmann::ordered_json request);

  const std::filesystem::path& dir() const { return dir_; }
  int64_t finished_blocks() const { return static_cast<int64_t>(blocks_.size()); }

  // The finished blocks, checked against `decoder`'s shapes. Throws
  // qs::FormatError naming the file and the field or tensor.
  JournalBlocks read(const model::Decoder& decoder) const;

  // Writes journal.json when there is none yet, naming no block: a
  // refinement over a model quantized before keeps its state in a journal
  // of no blocks. (record() writes it for the pipeline's blocks.) Throws
  // qs::IoError naming the directory or file.
  void begin();

  // Records block `result.layer` of `decoder` (the next one) as finished,
  // with `layers`, its seven LayerResults. The block's tensors are written
  // before journal.json names them, each through a temporary and a rename, so
  // a crash while writing loses at most that block.
  void record(const model::Decoder& decoder, const BlockResult& result, const std::vector<LayerResult>& layers);

  // Where refinement `index` of the run (in the order the pipeline runs them)
  // keeps its training state (ModelContext::state_file()).
  std::filesystem::path refinement_state_file(size_t index) const;
  // Whether a refinement has saved its training state there.
  bool has_refinement_state() const;

  // Deletes the journal: its run's result is saved.
  void remove();

 private:
  std::filesystem::path dir_;
  nlohmann::ordered_json request_;
  void write_index(std::vector<nlohmann::ordered_json> blocks);

  std::vector<nlohmann::ordered_json> blocks_;  // journal.json's "blocks"
};

}  // namespace qs::pipeline
