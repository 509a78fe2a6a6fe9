#include "core/checkpoint/packed_checkpoint.h"

#include <nlohmann/json.hpp>

#include "core/checkpoint/checkpoint_format.h"
#include "core/checkpoint/fp8_weights.h"
#include "core/error.h"
#include "core/io/json_error.h"
#include "core/io/mapped_tensor.h"
#include "core/io/small_files.h"

namespace qs::checkpoint {
namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const fs::path& path) {
  try {
    return nlohmann::json::parse(io::read_small_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path.string(), "(document)", std::string("invalid JSON: ") + e.what(), io::json_error_offset(e));
  }
}

}  // namespace

bool has_quantization_config(const fs::path& config_json) {
  const auto j = read_json(config_json);
  return j.is_object() && j.contains("quantization_config") && !j["quantization_config"].is_null();
}

void read_packed_linears(const fs::path& config_json, model::ModelWeights& w) {
  const auto j = read_json(config_json);
  const std::string file = config_json.string();
  const auto& qc = j["quantization_config"];
  if (!qc.is_object() || !qc.contains("quant_method") || !qc["quant_method"].is_string())
    throw FormatError(file, "quantization_config.quant_method", "missing or not a string");
  const auto method = qc["quant_method"].get<std::string>();
  if (method == "fp8") {
    open_fp8_weights(hf_fp8_blocks(qc, file), file, w);
    return;
  }
  if (method == "compressed-tensors")
    if (const auto blocks = compressed_tensors_fp8_blocks(qc, file)) {
      open_fp8_weights(*blocks, file, w);
      return;
    }
  std::unique_ptr<CheckpointFormat> format;
  if (method == "compressed-tensors")
    format = make_compressed_tensors_format();
  else if (method == "gptq")
    format = make_gptq_format();
  else if (method == "awq")
    format = make_awq_format();
  else
    throw FormatError(file, "quantization_config.quant_method",
                      "'" + method + "' is not supported (compressed-tensors, gptq, awq, fp8)");
  const std::string source = w.source.string();
  const auto stored = w.tensors;
  auto records = format->read(qc, source, w.tensors);
  // What the reader converted is copied out; a view it kept faults its pages
  // back in when a block unpacks it.
  for (const auto& [name, t] : stored)
    if (!w.tensors.count(name)) io::release_mapped_pages(t);
  if (records.empty())
    throw FormatError(source, "quantization_config", "says " + method + " but no tensor is stored in that layout");
  for (auto& [name, q] : records) {
    for (auto it = w.source_dtypes.begin(); it != w.source_dtypes.end();)
      it = it->first.rfind(name + ".", 0) == 0 ? w.source_dtypes.erase(it) : std::next(it);
    w.source_dtypes[name + ".weight"] = "int" + std::to_string(q->spec.bits) + " (" + method + ")";
    w.quantized[name] = std::move(q);
  }
}

}  // namespace qs::checkpoint
