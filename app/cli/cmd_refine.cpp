#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/console_feedback.h"
#include "app/cli/device_option.h"
#include "app/cli/model_source.h"
#include "app/cli/run_options.h"
#include "app/cli/stopwatch.h"
#include "core/checkpoint/model_loader.h"
#include "core/checkpoint/quantscope_checkpoint.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/methods/method_registry.h"
#include "core/model/decoder.h"
#include "core/pipeline/quant_plan.h"
#include "core/pipeline/refinement_run.h"
#include "core/pipeline/run_journal.h"
#include "core/quant/param_json.h"
#include "core/text/tokenizer.h"
#if QS_WITH_HDF5
#include "core/project/checkpoint_project.h"
#include "core/project/project_file.h"
#include "core/project/project_refinement.h"
#endif

namespace qs::cli {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

constexpr const char* kRefineUsage =
    "usage: quantscope-cli refine QUANTIZED --then rilq|'{\"method\": \"rilq\", \"params\": {...}}'\n"
    "       --calib FILE (--out DIR | --project FILE.qsproj | both) [--fp MODEL] [--resume]\n"
    "       [--nsamples N] [--seqlen L] [--seed S]\n"
    "       [--eval FILE] [--eval-protocol hf|llamacpp] [--eval-ctx N] [--eval-limit K]\n"
    "       [--device cpu|cuda] [--dtype auto|fp32|fp16|bf16] [--batch B] [--threads T] [--resident-blocks N]\n"
    "QUANTIZED: a QuantScope checkpoint, a .qsproj project or a packed export; --fp: the model it was\n"
    "quantized from (default: the one a checkpoint or project records)";

#if QS_WITH_HDF5
// The project the refinement starts from: the source project as saved, or a
// checkpoint (QuantScope or packed) seen as a project over its FP model.
project::Project base_project(const std::string& quantized_path, const ModelSource& source,
                              const model::ModelWeights& fp, const fs::path& fp_path, const RunOptions& opts) {
  if (is_project_file(quantized_path)) return project::load_project(quantized_path);
  auto p = project::project_of_checkpoint(source.weights, source.provenance, fp, fp_path.string());
  p.settings.calibration_text = opts.calib_path;
  p.settings.nsamples = opts.nsamples;
  p.settings.seqlen = opts.seqlen;
  p.settings.seed = static_cast<int64_t>(opts.seed);
  p.settings.device = opts.device.str();
  p.settings.dtype = dtype_name(opts.dtype);
  return p;
}
#endif

double perplexity_of(model::Decoder& decoder, const EvalRequest& eval, ConsoleFeedback& feedback) {
  const auto r = analysis::perplexity(decoder, eval.tokens, eval.options, &feedback);
  feedback.finish_line();
  return r.ppl;
}

}  // namespace

int run_refine(const std::vector<std::string>& argv) {
  const Args args(argv, run_option_names({"then", "out", "fp", "project"}), {"resume"});
  if (args.positionals().size() != 1 || !args.has("then") || !args.has("calib") ||
      (!args.has("out") && !args.has("project")))
    throw ArgumentError(kRefineUsage);
  const std::string quantized_path = args.positionals()[0];
  const fs::path out_dir = args.get("out", "");
  const fs::path project_file = args.get("project", "");
  const auto [then, params] = pipeline::parse_refinement(args.get("then", ""), "--then");
  const auto& refinement = methods::refinement_or_throw(then, "--then");
  const RunOptions opts = parse_run_options(args);
  if (!out_dir.empty()) check_checkpoint_out(out_dir, quantized_path);
#if QS_WITH_HDF5
  if (!project_file.empty() && project_file.extension() != ".qsproj")
    throw ArgumentError("--project: " + project_file.string() + " should end in .qsproj");
#else
  if (!project_file.empty())
    throw IoError(project_file.string(), "this build of QuantScope has no HDF5 support, so it cannot write projects");
#endif

  ConsoleFeedback feedback;
  auto t0 = Clock::now();
  const auto source = open_model_source(quantized_path);
  const fs::path fp_path =
      checkpoint::fp_model_of(quantized_path, source.provenance, args.get("fp", ""), "name it with --fp MODEL");
  model::Decoder quantized(source.weights, opts.device, opts.dtype);
  apply_resident_blocks(args, quantized, feedback);
  const auto fp_weights = checkpoint::load_model(fp_path);
  auto tokenizer = text::load_tokenizer_for_model(fp_path);
  feedback.log("loaded " + quantized_path + " and its FP model " + fp_path.string() + " in " +
               std::to_string(seconds_since(t0)).substr(0, 5) + " s");
  // Refused before the calibration is read, let alone a step trained.
  if (then == "rilq") {
    pipeline::RefinementPlanRequest need;
    need.config = quantized.config();
    need.device = opts.device;
    need.dtype = opts.dtype;
    need.nsamples = opts.nsamples;
    need.seqlen = opts.seqlen;
    need.resident_blocks = quantized.resident_blocks();
    need.rank = params.get_int("rank");
    require_memory(pipeline::plan_refinement_memory(need), opts.device, feedback,
                   "fewer calibration sequences (--nsamples), a shorter --seqlen, a lower rank or "
                   "--resident-blocks 1 lower it");
  }

  // The refinement keeps its training state in a journal beside the output;
  // --resume goes on from it.
  pipeline::RunIdentity identity;
  identity.model = fp_path;
  identity.quantized = quantized_path;
  identity.plan_json = ojson{{"then", then}, {"params", quant::params_to_json<ojson>(params.values())}}.dump();
  identity.calibration_text = opts.calib_path;
  identity.nsamples = opts.nsamples;
  identity.seqlen = opts.seqlen;
  identity.seed = opts.seed;
  identity.device = opts.device.str();
  identity.dtype = dtype_name(opts.dtype);
  identity.batch = opts.batch;
  pipeline::RunJournal journal(journal_dir(out_dir, project_file), pipeline::journal_request(identity));
  if (journal.has_refinement_state() && !args.flag("resume"))
    throw ArgumentError(journal.dir().string() + " holds the training state of an interrupted run of this command: " +
                        "add --resume to go on with it, or remove " + journal.dir().string() + " to start over");

#if QS_WITH_HDF5
  // Checked before training: a project records one refinement.
  std::optional<project::Project> base;
  if (!project_file.empty()) {
    base = base_project(quantized_path, source, fp_weights, fp_path, opts);
    project::check_refinable(*base);
  }
#endif
  const auto calibration = calibration_of(opts, *tokenizer, feedback);

  const EvalRequest eval = parse_eval(args, *tokenizer);
  ojson eval_json = eval.record;
  if (eval.enabled) {
    eval_json["ppl_before"] = perplexity_of(quantized, eval, feedback);
    std::fprintf(stderr, "perplexity before %s: %.4f\n", then.c_str(), eval_json["ppl_before"].get<double>());
  }

  t0 = Clock::now();
  pipeline::RefinementRun run;
  {
    // The FP model is needed only for its hidden states on the calibration sequences.
    model::Decoder fp(fp_weights, opts.device, opts.dtype);
    apply_resident_blocks(args, fp, feedback);
    journal.begin();
    run = pipeline::refine_quantized_model(quantized, fp, calibration, refinement, params, opts.batch, feedback,
                                           journal.refinement_state_file(0));
  }
  const double refine_s = seconds_since(t0);
  feedback.finish_line();
  std::fprintf(stderr, "%s refined %lld linears in %.1f s\n", then.c_str(), static_cast<long long>(run.result.linears),
               refine_s);
  if (eval.enabled) {
    eval_json["ppl"] = perplexity_of(quantized, eval, feedback);
    std::fprintf(stderr, "perplexity after %s: %.4f (before %.4f)\n", then.c_str(), eval_json["ppl"].get<double>(),
                 eval_json["ppl_before"].get<double>());
  }

  // The source's run stays as recorded; the refinement is added beside it.
  ojson record = ojson::parse(source.provenance.run_json);
  ojson refinement_json = {{"method", then},
                           {"from", quantized_path},
                           {"fp_model", fp_path.string()},
                           {"linears", run.result.linears},
                           {"seconds", refine_s},
                           {"calibration", calibration_json(opts)},
                           {"device", opts.device.str()},
                           {"dtype", dtype_name(opts.dtype)}};
  refinement_json["params"] = quant::params_to_json<ojson>(params.values());
  for (const auto& [k, v] : run.result.reported) refinement_json[k] = v;
  if (eval.enabled) refinement_json["eval"] = eval_json;
  if (!record.contains("refinements") || !record["refinements"].is_array()) record["refinements"] = ojson::array();
  record["refinements"].push_back(refinement_json);

  if (!out_dir.empty()) {
    checkpoint::Provenance provenance = source.provenance;
    provenance.source_model = fp_path;
    // A model named with --fp is recorded as it is now.
    if (args.has("fp")) provenance.source_fingerprint.clear();
    provenance.run_json = record.dump();
    checkpoint::save_quantscope_checkpoint(quantized, provenance, out_dir);
    io::write_safetensors(out_dir / "calibration_ids.safetensors", {{"input_ids", calibration.ids.to(torch::kInt32)}},
                          {{"source", opts.calib_path}});
    feedback.log("saved " + out_dir.string());
  }
#if QS_WITH_HDF5
  if (base) {
    auto p = project::refined_project(*base, run.committed_by_name(), then, params);
    if (eval.enabled) p.results.ppl_quantized = eval_json["ppl"].get<double>();
    project::save_project(p, project_file);
    feedback.log("saved " + project_file.string());
  }
#endif

  journal.remove();

  ojson summary = refinement_json;
  if (!out_dir.empty()) summary["out"] = out_dir.string();
  if (!project_file.empty()) summary["project"] = project_file.string();
  summary["threads"] = at::get_num_threads();
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace qs::cli
