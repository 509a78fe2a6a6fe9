#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/device_option.h"
#include "app/cli/model_source.h"
#include "core/error.h"
#include "core/model/linear_shapes.h"
#include "kernels/bench/kernel_bench.h"

namespace qs::cli {
namespace {

std::vector<int64_t> int_list(const std::string& option, const std::string& text, int64_t min, int64_t max) {
  std::vector<int64_t> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      const int64_t v = std::stoll(item, &used);
      if (used != item.size() || v < min || v > max) throw std::out_of_range(item);
      values.push_back(v);
    } catch (const std::exception&) {
      throw ArgumentError("--" + option + ": '" + item + "' is not an integer in " + std::to_string(min) + ".." +
                          std::to_string(max));
    }
  }
  if (values.empty()) throw ArgumentError("--" + option + ": empty list");
  return values;
}

// "4096x11008,11008x4096": input features x output features.
std::vector<kernels::KernelShape> parse_shapes(const std::string& text) {
  std::vector<kernels::KernelShape> shapes;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto x = item.find('x');
    if (x == std::string::npos) throw ArgumentError("--shapes: '" + item + "' is not KxN (input x output features)");
    const auto k = int_list("shapes", item.substr(0, x), 1, int64_t{1} << 20);
    const auto n = int_list("shapes", item.substr(x + 1), 1, int64_t{1} << 20);
    shapes.push_back({k[0], n[0]});
  }
  if (shapes.empty()) throw ArgumentError("--shapes: empty list");
  return shapes;
}

// One decoder block's distinct linear shapes.
std::vector<kernels::KernelShape> model_shapes(const std::string& path) {
  std::vector<kernels::KernelShape> shapes;
  for (const auto& s : model::distinct_linear_shapes(open_model_source(path).weights.config))
    shapes.push_back({s.in, s.out});
  return shapes;
}

}  // namespace

int run_bench_kernels(const std::vector<std::string>& argv) {
  const Args args(argv, {"shapes", "bits", "group", "batch", "device", "repeats"}, {"lut"});
  const bool model_given = args.positionals().size() == 1;
  if (args.positionals().size() > 1 || model_given == args.has("shapes"))
    throw ArgumentError(
        "usage: quantscope-cli bench-kernels (MODEL | --shapes KxN,...) [--bits 2,3,4,8] [--group G] "
        "[--batch 1,16] [--device cpu|cuda] [--repeats R] [--lut]");
  const auto shapes = model_given ? model_shapes(args.positionals()[0]) : parse_shapes(args.get("shapes", ""));
  kernels::KernelBenchOptions o;
  o.bits.clear();
  for (auto b : int_list("bits", args.get("bits", "4"), 2, 8)) o.bits.push_back(static_cast<int>(b));
  o.group_size = args.get_int("group", 128, 0, int64_t{1} << 20);
  o.batches = int_list("batch", args.get("batch", "1"), 1, 4096);
  o.repeats = static_cast<int>(args.get_int("repeats", o.repeats, 1, 10000));
  o.device = parse_device(args.get("device", "cpu"));
  o.lut = args.flag("lut");
  if (!o.device.is_cuda())
    std::fprintf(stderr, "no GPU selected: timing the CPU fallback against fp32 at::mm (--device cuda for the kernels)\n");

  kernels::KernelBenchResult r;
  try {
    r = kernels::run_kernel_bench(shapes, o, [](const std::string& what) { std::fprintf(stderr, "  %s\n", what.c_str()); });
  } catch (const std::invalid_argument& e) {
    throw ArgumentError(e.what());
  }
  std::fputs(kernels::format_kernel_table(r).c_str(), stderr);

  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : r.rows)
    rows.push_back({{"k", row.shape.in}, {"n", row.shape.out}, {"bits", row.bits}, {"group", row.group_size},
                    {"batch", row.batch}, {"kernel", row.kernel}, {"lut", row.lut}, {"baseline_us", row.baseline_us},
                    {"packed_us", row.packed_us}, {"packed_gbps", row.packed_gbps},
                    {"copy_fraction", row.copy_fraction}, {"speedup", row.speedup},
                    {"ideal_speedup", row.ideal_speedup}});
  nlohmann::json geomeans = nlohmann::json::object();
  for (int bits : o.bits)
    for (int64_t batch : o.batches)
      for (bool lut : {false, true})
        if (const double g = kernels::geomean_speedup(r, bits, batch, lut); g > 0)
          geomeans[std::to_string(bits) + "bit_batch" + std::to_string(batch) + (lut ? "_lut" : "")] = g;
  const nlohmann::json j = {{"device", r.device}, {"baseline", r.baseline}, {"copy_gbps", r.copy_gbps},
                            {"rows", rows}, {"geomean_speedup", geomeans}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace qs::cli
