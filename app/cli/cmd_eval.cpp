#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/console_feedback.h"
#include "app/cli/device_option.h"
#include "app/cli/eval_text.h"
#include "app/cli/model_source.h"
#include "app/cli/stopwatch.h"
#include "core/analysis/perplexity.h"
#include "core/error.h"
#include "core/model/decoder.h"
#include "core/model/packed_linear_op.h"
#include "core/text/tokenizer.h"

namespace qs::cli {

int run_eval(const std::vector<std::string>& argv) {
  const Args args(argv, {"text", "protocol", "ctx", "limit-chunks", "device", "dtype", "batch", "threads", "kernels",
                                "resident-blocks"},
                  {});
  if (args.positionals().size() != 1 || !args.has("text"))
    throw ArgumentError(
        "usage: quantscope-cli eval MODEL_OR_PROJECT --text FILE [--protocol llamacpp|hf] [--ctx N] "
        "[--limit-chunks K] [--device cpu|cuda] [--dtype auto|fp32|fp16|bf16] [--batch B] [--threads T] "
        "[--kernels dense|packed] [--resident-blocks N]");
  const std::string model_path = args.positionals()[0];
  const bool hf = args.get_choice("protocol", "llamacpp", {"llamacpp", "hf"}) == "hf";
  const torch::Device device = parse_device(args.get("device", "cpu"));
  const torch::ScalarType dtype = parse_dtype(args.get("dtype", "auto"), device);
  if (args.has("threads")) at::set_num_threads(static_cast<int>(args.get_int("threads", 1, 1, 1024)));

  ConsoleFeedback feedback;
  auto t0 = std::chrono::steady_clock::now();
  const auto source = open_model_source(model_path);
  auto tokenizer = text::load_tokenizer_for_model(source.tokenizer_source);
  model::Decoder decoder(source.weights, device, dtype);
  apply_resident_blocks(args, decoder, feedback);
  const std::string kernels = args.get_choice("kernels", "dense", {"dense", "packed"});
  model::PackedSwap swap;
  if (kernels == "packed") {
    swap = model::use_packed_kernels(decoder);
    feedback.log(std::to_string(swap.packed) + " linears on the packed kernels");
    for (const auto& why : swap.skipped) feedback.log("kept dequantized: " + why);
  }
  const double load_s = seconds_since(t0);
  feedback.log("loaded " + model_path + " in " + std::to_string(load_s).substr(0, 5) + " s");

  t0 = std::chrono::steady_clock::now();
  const auto tokens = tokenize_eval_text(*tokenizer, args.get("text", ""), hf);
  const double tokenize_s = seconds_since(t0);
  feedback.log("tokenized " + args.get("text", "") + ": " + std::to_string(tokens.size()) + " tokens");

  const auto o = eval_options(*tokenizer, hf, args.get_int("ctx", 512, 4, 1 << 20),
                              args.get_int("limit-chunks", 0, 0, 1 << 30), args.get_int("batch", 1, 1, 4096));
  const auto r = analysis::perplexity(decoder, tokens, o, &feedback);
  feedback.finish_line();
  if (!std::isfinite(r.mean_nll)) {
    size_t window = 0;
    while (window < r.running_ppl.size() && std::isfinite(r.running_ppl[window])) ++window;
    throw Error(model_path + ": window " + std::to_string(window + 1) + " of " + std::to_string(r.chunks) +
                " gives a loss that is not a number: the model computes NaN or infinity there (non-finite "
                "weights, or an overflow in " + dtype_name(dtype) + "), so no perplexity can be reported");
  }
  std::fprintf(stderr, "perplexity %.4f over %lld windows of %lld (%s protocol), %.1f tokens/s\n", r.ppl,
               static_cast<long long>(r.chunks), static_cast<long long>(o.ctx), analysis::protocol_name(o.protocol),
               r.tokens_per_second);

  nlohmann::json j = {{"model", model_path},
                      {"text", args.get("text", "")},
                      {"protocol", analysis::protocol_name(o.protocol)},
                      {"ctx", o.ctx},
                      {"chunks", r.chunks},
                      {"scored_tokens", r.scored_tokens},
                      {"text_tokens", tokens.size()},
                      {"ppl", r.ppl},
                      {"mean_nll", r.mean_nll},
                      {"device", device.str()},
                      {"dtype", dtype_name(dtype)},
                      {"kernels", kernels},
                      {"packed_linears", swap.packed},
                      {"dequantized_linears", swap.skipped.size()},
                      {"threads", at::get_num_threads()},
                      {"eval_seconds", r.seconds},
                      {"tokens_per_second", r.tokens_per_second},
                      {"load_seconds", load_s},
                      {"tokenize_seconds", tokenize_s},
                      {"running_ppl", r.running_ppl}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace qs::cli
