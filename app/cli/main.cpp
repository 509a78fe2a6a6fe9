// quantscope-cli: the command-line front end of QuantScope.

#include <cstdio>
#include <string>
#include <vector>

#include "app/cli/commands.h"
#include "core/allocator_policy.h"
#include "core/error.h"

namespace {

constexpr const char* kUsage =
    "usage: quantscope-cli <command> [options]\n"
    "commands:\n"
    "  info MODEL              architecture, layers, parameter count, stored dtypes\n"
    "  plan MODEL --method NAME [--nsamples N] [--seqlen L] [--batch B] [--device cpu|cuda] [--dtype ...]\n"
    "                          [--resident-blocks N] [--layers N] [--eval-ctx N]\n"
    "                          the memory a quantize run will need on the device and the host, without running\n"
    "  eval MODEL_OR_PROJECT --text FILE\n"
    "                          perplexity [--protocol llamacpp|hf] [--ctx N] [--limit-chunks K]\n"
    "                          [--device cpu|cuda] [--dtype auto|fp32|fp16|bf16] [--batch B] [--kernels dense|packed]\n"
    "  quantize MODEL --method NAME --bits B --group G --calib FILE (--out DIR | --project FILE)\n"
    "                          [--nsamples N] [--seqlen L] [--seed S] [--sym] [--layers-config JSON] [--then "
    "NAME|JSON]\n"
    "                          [--eval FILE] [--eval-protocol hf|llamacpp] [--eval-ctx N] [--eval-limit K]\n"
    "                          [--device cpu|cuda] [--dtype ...] [--batch B] [--threads T] [--resident-blocks N]\n"
    "                          [--all-experts]\n"
    "  refine QUANTIZED --then NAME|JSON --calib FILE --out DIR [--fp MODEL] [--eval FILE] [...]\n"
    "                          a refinement (RILQ) over a model quantized before: checkpoint, project or export\n"
    "  export MODEL_OR_PROJECT --format compressed-tensors|gptq|gptq-v2|awq|gguf|fake-quant --out DIR\n"
    "                          [--dtype float16|bfloat16|float32] [--max-shard-mb N]\n"
    "                          a quantized MODEL as a packed checkpoint HF transformers, vLLM or llama.cpp load;\n"
    "                          past N MB (default 5000) numbered shards with model.safetensors.index.json\n"
    "  project show FILE       what a .qsproj project holds, and whether its model changed\n"
    "  methods                 the quantization methods and their hyper-parameters with defaults\n"
    "  bench-kernels (MODEL | --shapes KxN,...) [--bits 2,3,4,8] [--group G] [--batch 1,16] [--device cpu|cuda] "
    "[--lut]\n"
    "                          packed low-bit matmul against the dense baseline, per linear shape\n"
    "MODEL is a .gguf file, a .safetensors file with config.json beside it, or an HF directory.\n"
    "Human output goes to stderr; the last line on stdout is JSON.\n";

}  // namespace

int main(int argc, char** argv) {
  qs::use_mapped_large_allocations();
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "info") return qs::cli::run_info(args);
    if (command == "plan") return qs::cli::run_plan(args);
    if (command == "eval") return qs::cli::run_eval(args);
    if (command == "quantize") return qs::cli::run_quantize(args);
    if (command == "refine") return qs::cli::run_refine(args);
    if (command == "export") return qs::cli::run_export(args);
    if (command == "project") return qs::cli::run_project(args);
    if (command == "methods") return qs::cli::run_methods(args);
    if (command == "bench-kernels") return qs::cli::run_bench_kernels(args);
    std::fprintf(stderr, "quantscope-cli: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const qs::Cancelled&) {
    std::fprintf(stderr, "\nquantscope-cli: cancelled\n");
    return 130;
  } catch (const qs::ArgumentError& e) {
    std::fprintf(stderr, "quantscope-cli: %s\n", e.what());
    return 2;
  } catch (const qs::Error& e) {
    std::fprintf(stderr, "quantscope-cli: error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "quantscope-cli: error in torch: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "quantscope-cli: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    // Every reader names the file and field of what it refuses; anything else
    // reaching here is a defect, reported rather than ended in std::terminate.
    std::fprintf(stderr, "quantscope-cli: internal error (please report it): %s\n", e.what());
    return 1;
  }
}
