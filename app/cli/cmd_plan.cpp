#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/device_option.h"
#include "core/checkpoint/model_loader.h"
#include "core/error.h"
#include "core/model/residency.h"
#include "core/pipeline/memory_plan.h"

namespace qs::cli {

int run_plan(const std::vector<std::string>& argv) {
  const Args args(argv,
                  {"method", "nsamples", "seqlen", "batch", "device", "dtype", "resident-blocks", "layers",
                   "device-memory", "eval-ctx"},
                  {});
  if (args.positionals().size() != 1 || !args.has("method"))
    throw ArgumentError(
        "usage: quantscope-cli plan MODEL --method NAME [--nsamples N] [--seqlen L] [--batch B] "
        "[--device cpu|cuda] [--dtype auto|fp32|fp16|bf16] [--resident-blocks N] [--layers N] "
        "[--device-memory GIB] [--eval-ctx N]");
  auto config = checkpoint::load_model(args.positionals()[0]).config;
  // A slice of a model's blocks stands for the whole model with its layer count.
  if (args.has("layers")) config.num_layers = args.get_int("layers", config.num_layers, 1, 1 << 16);
  pipeline::MemoryPlanRequest r;
  r.config = config;
  r.device = parse_device(args.get("device", "cpu"), /*require_available=*/false);
  r.dtype = parse_dtype(args.get("dtype", "auto"), r.device);
  r.method = args.get("method", "");
  r.nsamples = args.get_int("nsamples", r.device.is_cuda() ? 128 : 32, 1, 1 << 20);
  r.seqlen = args.get_int("seqlen", 512, 8, 1 << 20);
  r.batch = args.get_int("batch", 8, 1, 4096);
  // Planning for a device this machine does not have (a GPU run prepared on a
  // laptop) takes its memory from --device-memory.
  const int64_t available = args.has("device-memory")
                                ? args.get_int("device-memory", 0, 1, 1 << 20) * (int64_t{1} << 30)
                                : model::available_memory_bytes(r.device);
  r.resident_blocks = args.has("resident-blocks") ? args.get_int("resident-blocks", 0, 0, config.num_layers)
                                                  : model::default_resident_blocks(config, r.dtype, available);
  r.spill_codes = r.resident_blocks != 0;
  // A run with --eval measures perplexity windows of this many tokens.
  r.eval_ctx = args.get_int("eval-ctx", 0, 0, 1 << 20);
  const auto p = pipeline::plan_memory(r);
  std::fprintf(stderr, "%s, %lld layers, %s on %s, %lld x %lld calibration tokens:\n%s", r.method.c_str(),
               static_cast<long long>(config.num_layers), dtype_name(r.dtype).c_str(), r.device.str().c_str(),
               static_cast<long long>(r.nsamples), static_cast<long long>(r.seqlen),
               pipeline::describe(p, r.device, available, model::available_memory_bytes(torch::kCPU)).c_str());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& i : p.items)
    items.push_back({{"what", i.what}, {"device_bytes", i.device_bytes}, {"host_bytes", i.host_bytes}});
  std::printf("%s\n", nlohmann::json({{"method", r.method},
                                      {"layers", config.num_layers},
                                      {"device", r.device.str()},
                                      {"dtype", dtype_name(r.dtype)},
                                      {"resident_blocks", r.resident_blocks},
                                      {"device_peak_bytes", p.device_peak},
                                      {"host_peak_bytes", p.host_peak},
                                      {"modeled", p.modeled},
                                      {"items", items}})
                          .dump()
                          .c_str());
  return 0;
}

}  // namespace qs::cli
