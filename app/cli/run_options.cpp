#include "app/cli/run_options.h"

#include "app/cli/device_option.h"
#include "app/cli/eval_text.h"
#include "core/checkpoint/quantscope_checkpoint.h"
#include "core/error.h"
#include "core/text/text_file.h"

namespace qs::cli {

std::set<std::string> run_option_names(std::set<std::string> own) {
  own.insert({"calib", "nsamples", "seqlen", "seed", "eval", "eval-protocol", "eval-ctx", "eval-limit", "device",
              "dtype", "batch", "threads", "resident-blocks"});
  return own;
}

RunOptions parse_run_options(const Args& args) {
  RunOptions o;
  o.device = parse_device(args.get("device", "cpu"));
  o.dtype = parse_dtype(args.get("dtype", "auto"), o.device);
  if (args.has("threads")) at::set_num_threads(static_cast<int>(args.get_int("threads", 1, 1, 1024)));
  o.nsamples = args.get_int("nsamples", o.device.is_cuda() ? 128 : 32, 1, 1 << 20);
  o.seqlen = args.get_int("seqlen", 512, 8, 1 << 20);
  o.seed = static_cast<uint64_t>(args.get_int("seed", 0, 0, INT64_MAX));
  o.batch = args.get_int("batch", 8, 1, 4096);
  o.calib_path = args.get("calib", "");
  return o;
}

text::CalibrationSet calibration_of(const RunOptions& o, const text::Tokenizer& tokenizer, Feedback& feedback) {
  auto calibration = text::sample_calibration(tokenizer.encode(text::read_text_file(o.calib_path)), o.nsamples,
                                              o.seqlen, o.seed, o.calib_path);
  feedback.log("calibration: " + std::to_string(o.nsamples) + " x " + std::to_string(o.seqlen) + " tokens from " +
               o.calib_path + " (seed " + std::to_string(o.seed) + ")");
  return calibration;
}

nlohmann::ordered_json calibration_json(const RunOptions& o) {
  return {{"text", o.calib_path}, {"nsamples", o.nsamples}, {"seqlen", o.seqlen}, {"seed", o.seed}};
}

int64_t eval_ctx_of(const Args& args) {
  if (!args.has("eval")) return 0;
  const bool hf = args.get_choice("eval-protocol", "hf", {"hf", "llamacpp"}) == "hf";
  return args.get_int("eval-ctx", hf ? 2048 : 512, 4, 1 << 20);
}

EvalRequest parse_eval(const Args& args, const text::Tokenizer& tokenizer) {
  EvalRequest e;
  const bool hf = args.get_choice("eval-protocol", "hf", {"hf", "llamacpp"}) == "hf";
  e.enabled = args.has("eval");
  if (!e.enabled) return e;
  e.tokens = tokenize_eval_text(tokenizer, args.get("eval", ""), hf);
  e.options = eval_options(tokenizer, hf, eval_ctx_of(args), args.get_int("eval-limit", 0, 0, 1 << 30), 1);
  e.record = {{"text", args.get("eval", "")},
              {"protocol", analysis::protocol_name(e.options.protocol)},
              {"ctx", e.options.ctx}};
  return e;
}

void check_checkpoint_out(const std::filesystem::path& out_dir, const std::filesystem::path& source) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path source_dir = fs::is_directory(source, ec) ? source : source.parent_path();
  if (fs::equivalent(out_dir, source_dir.empty() ? fs::path(".") : source_dir, ec))
    throw ArgumentError("--out " + out_dir.string() + " is the directory of " + source.string() +
                        ", which this run reads; write the result to another directory");
  if (fs::exists(out_dir) && !fs::is_directory(out_dir))
    throw IoError(out_dir.string(), "exists and is not a directory");
  if (fs::is_directory(out_dir) && !fs::is_empty(out_dir) && !checkpoint::is_quantscope_checkpoint(out_dir))
    throw IoError(out_dir.string(), "directory is not empty and is not a QuantScope checkpoint; refusing to overwrite");
}

std::filesystem::path journal_dir(const std::filesystem::path& out_dir, const std::filesystem::path& project_file) {
  auto base = (out_dir.empty() ? project_file : out_dir).lexically_normal();
  if (!base.has_filename()) base = base.parent_path();
  return base.string() + ".journal";
}

}  // namespace qs::cli
