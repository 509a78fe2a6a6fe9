#pragma once
// How a quantized checkpoint was made: the FP model it was quantized from,
// each linear's method, parameters and metrics, and the run (calibration,
// refinements, evaluation). A QuantScope checkpoint keeps it in
// quantscope.json beside its tensors' layout; a packed export (GPTQ, AWQ,
// compressed-tensors, GGUF) in quantscope_provenance.json, which the other
// loaders ignore, with the smoothing scales its packed tensors folded away in
// quantscope_provenance.safetensors. Refinement takes its targets from the
// recorded FP model, and the workbench shows the recorded methods and compares
// each stored linear with the FP model in the frame the scales give.

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/quant/method_params.h"

namespace qs::checkpoint {

inline constexpr const char* kProvenanceFile = "quantscope_provenance.json";
inline constexpr const char* kProvenanceTensorsFile = "quantscope_provenance.safetensors";
inline constexpr int kProvenanceFormatVersion = 1;

struct LinearProvenance {
  std::string method;
  std::map<std::string, quant::ParamValue> params;
  double weight_mse = 0.0;
  double output_rel_mse = 0.0;
  double seconds = 0.0;
};

struct Provenance {
  std::filesystem::path source_model;               // the FP model; empty: not recorded
  std::string source_fingerprint;                   // io::file_fingerprint of it when recorded
  std::map<std::string, LinearProvenance> linears;  // by module name
  std::string run_json = "{}";                      // a JSON object stored as is under "run"
  // By module name: the QuantizedLinear::input_scale of linears a packed export
  // stores without it (the scale is folded into the previous op either way).
  std::map<std::string, torch::Tensor> input_scales;
  // When the checkpoint is one file beside the provenance (a GGUF export's
  // model.gguf): its name. The provenance then records the file's fingerprint,
  // and is read for that file only, as long as the fingerprint matches.
  std::string checkpoint_file;
};

// The recorded form of the FP model's path: absolute, so a checkpoint read
// from another working directory still finds it; empty stays empty.
std::string recorded_path(const std::filesystem::path& p);

// The fingerprint to record: the one `p` carries (a checkpoint written again
// keeps the fingerprint of the model it was quantized from), else that of the
// FP model as it is now; empty when there is none or it cannot be read.
std::string fingerprint_to_record(const Provenance& p);

// Both files share their fields: "source_model", "source_fingerprint", "run",
// and per linear under "linears.<name>" its "method", "params" and "metrics"
// (quantscope.json adds the tensors' layout there).
void write_linear_provenance(const LinearProvenance& p, nlohmann::ordered_json& entry);
// Throws qs::FormatError naming `file` and the field. A linear without a method is left out.
Provenance provenance_fields(const nlohmann::ordered_json& doc, const std::string& file);

// Writes <dir>/quantscope_provenance.json through a temporary and a rename,
// and the input scales, when there are any, to quantscope_provenance.safetensors
// (tensors "<module>.input_scale"), which the JSON names.
// Throws qs::ArgumentError when run_json is not JSON.
void write_provenance(const Provenance& p, const std::filesystem::path& dir);

// What `path` records: quantscope.json of a QuantScope checkpoint, else the
// provenance file of a packed export (in the directory, or beside the file
// for a GGUF export, when it describes that file as it is), else nothing (an
// empty Provenance).
// Throws qs::FormatError naming the file and field (or tensor) of a damaged
// record, qs::IoError naming a scales file that is not there.
Provenance read_provenance(const std::filesystem::path& path);

// Why the FP model `label` records cannot be used: it records none, it is not
// there, or it changed since (its fingerprint no longer matches). Empty when
// it can.
std::string recorded_fp_model_problem(const std::string& label, const Provenance& recorded);

// The FP model `label` was quantized from: `named` when given, else the
// recorded one. Throws qs::IoError naming the path when the named one is not
// there or the recorded one cannot be used, ending with `hint` (how the user
// names the model).
std::filesystem::path fp_model_of(const std::string& label, const Provenance& recorded,
                                  const std::filesystem::path& named, const std::string& hint);

}  // namespace qs::checkpoint
