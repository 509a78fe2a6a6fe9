#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/error.h"
#if QS_WITH_HDF5
#include "core/project/project_file.h"
#include "core/project/project_model.h"
#endif

namespace qs::cli {

#if QS_WITH_HDF5
namespace {

const char* state_name(project::ModelState s) {
  switch (s) {
    case project::ModelState::Same:
      return "unchanged";
    case project::ModelState::Changed:
      return "changed";
    case project::ModelState::Missing:
      return "missing";
  }
  return "?";
}

int show(const std::string& file) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto p = project::load_project(file);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto status = project::check_model(p.model);

  std::map<std::string, int> choices;  // "gptq W4g128" -> linears
  int64_t records = 0, analysed = 0, packed_bytes = 0;
  std::vector<const project::LayerEntry*> measured;
  for (const auto& e : p.layers) {
    ++choices[e.method == "fp16" ? e.method : e.method + " " + e.spec.label()];
    if (e.record) {
      ++records;
      const auto& q = *e.record;
      packed_bytes += q.out_features * q.in_features * q.spec.bits / 8 + q.scales.numel() * 4 + q.zeros.numel() * 4;
    }
    if (!e.analyses.empty()) ++analysed;
    if (e.has_metrics) measured.push_back(&e);
  }
  std::sort(measured.begin(), measured.end(), [](auto* a, auto* b) { return a->output_rel_mse > b->output_rel_mse; });

  std::fprintf(stderr, "project   %s (%.1f MiB, read in %.2f s)\n", file.c_str(),
               static_cast<double>(std::filesystem::file_size(file)) / (1024.0 * 1024.0), load_s);
  std::fprintf(stderr, "model     %s [%s, %lld layers] %s\n", p.model.path.c_str(), p.model.architecture.c_str(),
               static_cast<long long>(p.model.num_layers),
               status.state == project::ModelState::Same ? "(unchanged)" : ("-- " + status.message).c_str());
  std::fprintf(stderr, "calib     %s, %lld x %lld tokens, seed %lld\n", p.settings.calibration_text.c_str(),
               static_cast<long long>(p.settings.nsamples), static_cast<long long>(p.settings.seqlen),
               static_cast<long long>(p.settings.seed));
  std::fprintf(stderr, "linears   %zu, %lld with quantized codes, %lld with cached analyses\n", p.layers.size(),
               static_cast<long long>(records), static_cast<long long>(analysed));
  for (const auto& [c, n] : choices) std::fprintf(stderr, "          %-28s %d\n", c.c_str(), n);
  if (p.results.ppl_quantized == p.results.ppl_quantized)
    std::fprintf(stderr, "perplexity %.4f (FP %.4f) on %s, %s protocol, ctx %lld\n", p.results.ppl_quantized,
                 p.results.ppl_fp, p.settings.eval_text.c_str(), p.settings.eval_protocol.c_str(),
                 static_cast<long long>(p.settings.eval_ctx));
  if (!measured.empty()) {
    std::fprintf(stderr, "largest output errors (relative MSE on calibration inputs):\n");
    for (size_t i = 0; i < std::min<size_t>(5, measured.size()); ++i)
      std::fprintf(stderr, "          %-40s %.3e\n", measured[i]->name.c_str(), measured[i]->output_rel_mse);
  }

  nlohmann::json j = {{"project", file},
                      {"schema_version", project::kSchemaVersion},
                      {"model", p.model.path},
                      {"model_state", state_name(status.state)},
                      {"linears", p.layers.size()},
                      {"quantized", records},
                      {"analysed", analysed},
                      {"packed_bytes", packed_bytes},
                      {"file_bytes", std::filesystem::file_size(file)},
                      {"blocks", p.results.blocks.size()},
                      {"curve_points", p.results.curve.size()},
                      {"kernel_timings", p.results.kernels.size()},
                      {"load_seconds", load_s}};
  if (p.results.ppl_quantized == p.results.ppl_quantized) {
    j["ppl_fp"] = p.results.ppl_fp;
    j["ppl"] = p.results.ppl_quantized;
  }
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace
#endif

int run_project(const std::vector<std::string>& argv) {
  const Args args(argv, {}, {});
  const auto& pos = args.positionals();
  if (pos.size() != 2 || pos[0] != "show") throw ArgumentError("usage: quantscope-cli project show FILE.qsproj");
#if QS_WITH_HDF5
  return show(pos[1]);
#else
  throw IoError(pos[1], "this build of QuantScope has no HDF5 support, so it cannot open projects");
#endif
}

}  // namespace qs::cli
