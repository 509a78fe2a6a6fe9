#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/model_source.h"
#include "core/checkpoint/packed_export.h"
#include "core/error.h"
#include "core/model/decoder.h"

namespace qs::cli {
namespace fs = std::filesystem;

namespace {

torch::ScalarType parse_export_dtype(const std::string& name) {
  if (name == "float16") return torch::kFloat16;
  if (name == "bfloat16") return torch::kBFloat16;
  return torch::kFloat32;
}

}  // namespace

int run_export(const std::vector<std::string>& argv) {
  const Args args(argv, {"format", "out", "dtype", "max-shard-mb"}, {});
  if (args.positionals().size() != 1 || !args.has("out") || !args.has("format"))
    throw ArgumentError(
        "usage: quantscope-cli export MODEL_OR_PROJECT --format compressed-tensors|gptq|gptq-v2|awq|gguf|fake-quant "
        "--out DIR "
        "[--dtype float16|bfloat16|float32] [--max-shard-mb N]");
  const fs::path model_path = args.positionals()[0];
  checkpoint::ExportOptions o;
  o.format = checkpoint::parse_format(args.get("format", ""));
  o.dtype = parse_export_dtype(args.get_choice("dtype", "float16", {"float16", "bfloat16", "float32"}));
  o.max_shard_bytes = static_cast<uint64_t>(args.get_int(
                          "max-shard-mb", static_cast<int64_t>(io::kDefaultShardBytes / 1'000'000), 1, 1'000'000)) *
                      1'000'000;
  const fs::path out = args.get("out", "");
  // Only an earlier export is written over: anything else in the directory is
  // someone's work (a model, another tool's export) that was not asked for.
  if (std::error_code ec; fs::is_directory(out, ec) && !fs::is_empty(out, ec) && !checkpoint::holds_export(out))
    throw IoError(out.string(),
                  "directory is not empty and holds no QuantScope export; refusing to write over it (name a new or "
                  "empty directory)");

  const auto source = open_model_source(model_path);
  const auto& weights = source.weights;
  o.tokenizer_source = source.tokenizer_source;
  o.provenance = source.provenance;
  if (weights.quantized.empty())
    throw ArgumentError(model_path.string() + " has no quantized layer: quantize it first (quantscope-cli quantize)");
  const model::Decoder decoder(weights, torch::kCPU, torch::kFloat32);
  const auto report = checkpoint::export_checkpoint(decoder, o, out);
  std::fprintf(stderr, "exported %lld quantized linears (%zu kept in FP) as %s to %s, %.1f MiB of weights\n",
               static_cast<long long>(report.quantized_linears), report.kept_fp.size(),
               checkpoint::format_name(o.format).c_str(), out.string().c_str(),
               static_cast<double>(report.bytes) / (1024.0 * 1024.0));
  for (const auto& note : report.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  nlohmann::json j = {{"model", model_path.string()},
                      {"format", checkpoint::format_name(o.format)},
                      {"out", out.string()},
                      {"quantized_linears", report.quantized_linears},
                      {"kept_fp", report.kept_fp},
                      {"bytes", report.bytes},
                      {"notes", report.notes},
                      {"quantization_config", nlohmann::json::parse(report.quantization_config)}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace qs::cli
