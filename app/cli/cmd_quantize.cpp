#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <tuple>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/console_feedback.h"
#include "app/cli/device_option.h"
#include "app/cli/run_options.h"
#include "app/cli/stopwatch.h"
#include "core/checkpoint/model_loader.h"
#include "core/checkpoint/quantscope_checkpoint.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/io/small_files.h"
#include "core/model/decoder.h"
#include "core/pipeline/memory_plan.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/quant_plan.h"
#include "core/pipeline/run_journal.h"
#include "core/text/tokenizer.h"
#if QS_WITH_HDF5
#include "core/project/project_file.h"
#include "core/project/project_model.h"
#endif

namespace qs::cli {
namespace {

namespace fs = std::filesystem;

#if QS_WITH_HDF5
std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}
#endif

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux reports KiB
}

constexpr const char* kQuantizeUsage =
    "usage: quantscope-cli quantize MODEL --method NAME --bits B --group G --calib FILE\n"
    "       (--out DIR | --project FILE.qsproj | both)\n"
    "       [--nsamples N] [--seqlen L] [--seed S] [--sym] [--layers-config JSON] [--then NAME|JSON] [--resume]\n"
    "       [--eval FILE] [--eval-protocol hf|llamacpp] [--eval-ctx N] [--eval-limit K]\n"
    "       [--device cpu|cuda] [--dtype auto|fp32|fp16|bf16] [--batch B] [--threads T] [--resident-blocks N]\n"
    "       [--all-experts]  (Mixture of Experts: every expert's statistics over every calibration token)";

}  // namespace

int run_quantize(const std::vector<std::string>& argv) {
  const Args args(argv, run_option_names({"method", "bits", "group", "out", "project", "layers-config", "then"}),
                  {"sym", "resume", "all-experts"});
  if (args.positionals().size() != 1 || !args.has("calib") || !args.has("method") ||
      (!args.has("out") && !args.has("project")))
    throw ArgumentError(kQuantizeUsage);
  const std::string model_path = args.positionals()[0];
  const fs::path out_dir = args.get("out", "");
  const RunOptions opts = parse_run_options(args);
  const torch::Device device = opts.device;
  const torch::ScalarType dtype = opts.dtype;

  quant::QuantSpec spec;
  spec.bits = static_cast<int>(args.get_int("bits", 4, 2, 8));
  spec.group_size = args.get_int("group", 128, 0, 1 << 20);
  spec.symmetric = args.flag("sym");
  const std::string method = args.get("method", "");
  auto defaults = pipeline::QuantPlan::make_choice(method, spec, "--method");
  if (args.has("then"))
    std::tie(defaults.then, defaults.then_params) = pipeline::parse_refinement(args.get("then", ""), "--then");
  pipeline::QuantPlan plan(defaults);
  const std::string layers_config =
      args.has("layers-config") ? io::read_small_file(args.get("layers-config", "")) : std::string();
  if (args.has("layers-config"))
    plan = pipeline::QuantPlan::from_json(layers_config, defaults, args.get("layers-config", ""));
  // Refuse to overwrite something that is not ours before doing any work.
  const fs::path project_file = args.get("project", "");
#if !QS_WITH_HDF5
  if (!project_file.empty())
    throw IoError(project_file.string(), "this build of QuantScope has no HDF5 support, so it cannot write projects");
#endif
  if (!project_file.empty() && project_file.extension() != ".qsproj")
    throw ArgumentError("--project: " + project_file.string() + " should end in .qsproj");

  // Every block is journaled as it finishes; --resume goes on after the last.
  pipeline::RunIdentity identity;
  identity.model = model_path;
  identity.plan_json = plan.to_json();
  identity.calibration_text = opts.calib_path;
  identity.nsamples = opts.nsamples;
  identity.seqlen = opts.seqlen;
  identity.seed = opts.seed;
  identity.device = device.str();
  identity.dtype = dtype_name(dtype);
  identity.batch = opts.batch;
  identity.analyses = !project_file.empty();
  identity.all_experts = args.flag("all-experts");
  pipeline::RunJournal journal(journal_dir(out_dir, project_file), pipeline::journal_request(identity));
  if (journal.finished_blocks() > 0 && !args.flag("resume")) {
    const bool refining = journal.has_refinement_state();
    throw ArgumentError(journal.dir().string() + " holds " + std::to_string(journal.finished_blocks()) +
                        (journal.finished_blocks() == 1 ? " finished block" : " finished blocks") +
                        (refining ? " and its refinement's training state" : "") +
                        " of an interrupted run of this command: add --resume to go on " +
                        (refining ? "with the refinement" : "from block " + std::to_string(journal.finished_blocks())) +
                        ", or remove " + journal.dir().string() + " to start over");
  }
  if (!out_dir.empty()) {
    try {
      check_checkpoint_out(out_dir, model_path);
    } catch (const IoError& e) {
      if (journal.finished_blocks() == 0) throw;
      // A save cut short leaves files but not quantscope.json.
      throw ArgumentError(std::string(e.what()) + "; if a save of this run was cut short, remove what it left in " +
                          out_dir.string() + ": " + journal.dir().string() + " holds its finished blocks");
    }
  }

  ConsoleFeedback feedback;
  auto t0 = Clock::now();
  const auto weights = checkpoint::load_model(model_path);
  if (const auto part = checkpoint::left_alone_summary(weights); !part.empty())
    feedback.log("quantizing " + part + "; what is written holds the language model alone");
  auto tokenizer = text::load_tokenizer_for_model(model_path);
  model::Decoder decoder(weights, device, dtype);
  apply_resident_blocks(args, decoder, feedback);
  feedback.log("loaded " + model_path + " in " + std::to_string(seconds_since(t0)).substr(0, 5) + " s");
  // Refused before the calibration is read, let alone a block quantized.
  {
    pipeline::MemoryPlanRequest need;
    need.config = decoder.config();
    need.device = device;
    need.dtype = dtype;
    need.method = method;
    need.nsamples = opts.nsamples;
    need.seqlen = opts.seqlen;
    need.batch = opts.batch;
    need.resident_blocks = decoder.resident_blocks();
    need.spill_codes = decoder.resident_blocks() != 0;
    need.eval_ctx = eval_ctx_of(args);
    require_memory(pipeline::plan_memory(need), device, feedback,
                   "fewer calibration sequences (--nsamples), a smaller --batch or --resident-blocks 1 lower it");
  }

  const auto calibration = calibration_of(opts, *tokenizer, feedback);
  const auto& calib_path = opts.calib_path;

  const EvalRequest eval = parse_eval(args, *tokenizer);
  const bool evaluate = eval.enabled;
  const auto& eval_tokens = eval.tokens;
  const auto& eval_opts = eval.options;
  nlohmann::ordered_json eval_json = eval.record;
  if (evaluate) {
    const auto r = analysis::perplexity(decoder, eval_tokens, eval_opts, &feedback);
    feedback.finish_line();
    std::fprintf(stderr, "FP perplexity %.4f (%lld windows of %lld, %s protocol)\n", r.ppl,
                 static_cast<long long>(r.chunks), static_cast<long long>(eval_opts.ctx),
                 analysis::protocol_name(eval_opts.protocol));
    eval_json["chunks"] = r.chunks;
    eval_json["ppl_fp"] = r.ppl;
  }

  pipeline::PipelineOptions popts;
  popts.batch = opts.batch;
  popts.analyses = !project_file.empty();
  popts.journal = &journal;
  popts.route_all_experts = args.flag("all-experts");
  // A model streamed a block at a time keeps its finished codes beside the journal, not in memory.
  if (decoder.resident_blocks() != 0) popts.spill_dir = journal.dir();
  const int64_t resumed_blocks = journal.finished_blocks();
  if (resumed_blocks > 0)
    feedback.log("going on from block " + std::to_string(resumed_blocks) + ": blocks 0-" +
                 std::to_string(resumed_blocks - 1) + " are in the journal " + journal.dir().string());
  t0 = Clock::now();
  const auto result = pipeline::run_pipeline(decoder, calibration, plan, popts, feedback);
  const double quantize_s = seconds_since(t0);
  feedback.finish_line();
  std::fprintf(stderr, "quantized %d linears in %.1f s\n",
               static_cast<int>(std::count_if(result.layers.begin(), result.layers.end(),
                                              [](const auto& l) { return l.record != nullptr; })),
               quantize_s);

  if (evaluate) {
    const auto r = analysis::perplexity(decoder, eval_tokens, eval_opts, &feedback);
    feedback.finish_line();
    std::fprintf(stderr, "quantized perplexity %.4f (FP %.4f)\n", r.ppl, eval_json["ppl_fp"].get<double>());
    eval_json["ppl"] = r.ppl;
  }

  nlohmann::ordered_json blocks = nlohmann::ordered_json::array();
  for (const auto& b : result.blocks) {
    nlohmann::ordered_json block = {
        {"layer", b.layer}, {"output_mse", b.output_mse}, {"output_rel_mse", b.output_rel_mse}};
    if (!std::isnan(b.fp_rel_mse)) block["fp_rel_mse"] = b.fp_rel_mse;
    if (!b.expert_tokens.empty()) block["expert_tokens"] = b.expert_tokens;
    block["seconds"] = b.seconds;
    blocks.push_back(block);
  }
  nlohmann::ordered_json run = {{"method", method},
                                {"bits", spec.bits},
                                {"group", spec.group_size},
                                {"symmetric", spec.symmetric},
                                {"calibration", calibration_json(opts)},
                                {"device", device.str()},
                                {"dtype", dtype_name(dtype)},
                                {"quantize_seconds", quantize_s},
                                {"blocks", blocks}};
  if (args.has("layers-config")) run["layers_config"] = args.get("layers-config", "");
  // quantize_seconds then covers this process only; the blocks keep their own seconds.
  if (resumed_blocks > 0) run["resumed_blocks"] = resumed_blocks;
  if (!result.refinements.empty()) {
    nlohmann::ordered_json refinements = nlohmann::ordered_json::array();
    for (const auto& r : result.refinements) {
      nlohmann::ordered_json o = {{"method", r.method}, {"linears", r.linears}, {"seconds", r.seconds}};
      for (const auto& [k, v] : r.reported) o[k] = v;
      refinements.push_back(o);
    }
    run["refinements"] = refinements;
  }
  if (evaluate) run["eval"] = eval_json;

  if (!out_dir.empty()) {
    checkpoint::Provenance provenance;
    provenance.source_model = text::tokenizer_source(model_path);
    for (const auto& l : result.layers)
      if (l.record)
        provenance.linears[l.name] = {l.choice.method, l.choice.params.values(), l.weight_mse, l.output_rel_mse,
                                      l.seconds};
    provenance.run_json = run.dump();
    checkpoint::save_quantscope_checkpoint(decoder, provenance, out_dir);
    // The exact calibration tokens, so peer tools can be run on the same data.
    io::write_safetensors(out_dir / "calibration_ids.safetensors", {{"input_ids", calibration.ids.to(torch::kInt32)}},
                          {{"source", calib_path}});
    feedback.log("saved " + out_dir.string());
  }
#if QS_WITH_HDF5
  if (!project_file.empty()) {
    project::Settings settings;
    settings.calibration_text = calib_path;
    settings.nsamples = opts.nsamples;
    settings.seqlen = opts.seqlen;
    settings.seed = static_cast<int64_t>(opts.seed);
    if (evaluate) {
      settings.eval_text = args.get("eval", "");
      settings.eval_protocol = analysis::protocol_name(eval_opts.protocol);
      settings.eval_ctx = eval_opts.ctx;
      settings.eval_limit = eval_opts.limit_chunks;
    }
    settings.device = device.str();
    settings.dtype = dtype_name(dtype);
    settings.plan_json = plan.to_json();
    auto p = project::project_of_run(weights, model_path, decoder, result, std::move(settings));
    if (evaluate) {
      p.results.ppl_fp = eval_json["ppl_fp"].get<double>();
      p.results.ppl_quantized = eval_json["ppl"].get<double>();
    }
    t0 = Clock::now();
    project::save_project(p, project_file);
    run["project_save_seconds"] = seconds_since(t0);
    feedback.log("saved " + project_file.string() + " in " + fmt_seconds(seconds_since(t0)));
  }
#endif

  try {
    journal.remove();
  } catch (const IoError& e) {
    // What the run made is saved; a journal left behind only takes space.
    feedback.log(std::string("the run is saved, but its journal stays: ") + e.what());
  }

  nlohmann::ordered_json summary = run;
  summary.erase("blocks");
  summary["model"] = model_path;
  if (!out_dir.empty()) summary["out"] = out_dir.string();
  if (!project_file.empty()) summary["project"] = project_file.string();
  summary["threads"] = at::get_num_threads();
  summary["peak_rss_mib"] = peak_rss_mib();
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace qs::cli
