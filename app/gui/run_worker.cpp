#include "app/gui/run_worker.h"

#include <torch/cuda.h>

#include <QFileInfo>
#include <QStandardPaths>
#include <cmath>
#include <limits>
#include <new>
#include <optional>

#include "app/gui/background_priority.h"
#include "app/gui/calibration_source.h"
#include "app/gui/method_infos.h"
#include "app/gui/run_feedback.h"
#include "core/analysis/logit_divergence.h"
#include "core/checkpoint/model_loader.h"
#include "core/error.h"
#include "core/methods/method_registry.h"
#include "core/model/residency.h"
#include "core/number_format.h"
#include "core/pipeline/memory_plan.h"
#include "core/pipeline/refinement_run.h"
#include "core/pipeline/run_journal.h"
#include "core/text/calibration_set.h"
#include "core/text/text_file.h"
#include "core/text/tokenizer.h"
#if QS_WITH_HDF5
#include "core/checkpoint/provenance.h"
#include "core/project/checkpoint_project.h"
#include "core/project/project_file.h"
#include "core/project/project_model.h"
#include "core/project/project_refinement.h"
#endif

namespace qs::app {
namespace fs = std::filesystem;

namespace {

std::vector<std::pair<std::string, quant::ParamValue>> params_of(const widgets::LayerSetting& s) {
  std::vector<std::pair<std::string, quant::ParamValue>> out;
  for (auto it = s.params.begin(); it != s.params.end(); ++it) out.emplace_back(it.key().toStdString(), to_param(*it));
  return out;
}

widgets::LayerSetting default_setting(const widgets::RunSettings& s) {
  return {s.method, s.bits, s.group, s.symmetric, s.params};
}

// The panel's settings as the default, each per-layer override as a rule for
// exactly that linear.
pipeline::QuantPlan plan_for(const widgets::RunSettings& s) {
  auto defaults = choice_of(default_setting(s), "method panel");
  set_then(defaults, s.then, s.then_params, "method panel");
  pipeline::QuantPlan plan(std::move(defaults));
  for (auto it = s.layers.begin(); it != s.layers.end(); ++it) {
    pipeline::LayerRule rule;
    rule.pattern = it.key().toStdString();
    rule.method = it->method.toStdString();
    rule.bits = it->bits;
    rule.group_size = it->group;
    rule.symmetric = it->symmetric;
    rule.params = params_of(*it);
    plan.add_rule(std::move(rule));
  }
  return plan;
}

// The live slice: perplexity and per-token KL to `fp` from one forward pass;
// none when the panel names no evaluation text.
std::optional<analysis::DivergenceReference> live_slice(model::Decoder& fp, const text::Tokenizer& tokenizer,
                                                        const widgets::RunSettings& s, RunFeedback* feedback) {
  if (s.eval_path.isEmpty()) return std::nullopt;
  const auto eval_tokens = tokenizer.encode(text::read_text_file(s.eval_path.toStdString()));
  return analysis::DivergenceReference::capture(fp, eval_tokens, s.eval_ctx, s.eval_windows, feedback);
}

torch::Device run_device() { return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::kCPU; }
torch::Dtype run_dtype() { return torch::cuda::is_available() ? torch::kFloat16 : torch::kFloat32; }
std::string run_dtype_name() { return run_dtype() == torch::kFloat16 ? "fp16" : "fp32"; }

// The journals of runs that did not finish, one directory per request: a run
// of the same settings on the same model takes their finished blocks.
fs::path journals_root() {
  return fs::path(QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation).toStdString()) / "journals";
}

// The journal of these settings, after pruning old ones. One that cannot be
// taken (damaged) is started over; when none can be had at all (the model's
// files unreadable since it was opened, no app data directory) the run goes
// without one, as runs did before journals, and says so.
std::optional<pipeline::RunJournal> open_journal(const pipeline::RunIdentity& identity, const model::Decoder& decoder,
                                                 RunFeedback* feedback) {
  try {
    const auto request = pipeline::journal_request(identity);
    const auto dir = journals_root() / pipeline::journal_name(request);
    pipeline::prune_journals(journals_root(), dir, 3);
    try {
      pipeline::RunJournal journal(dir, request);
      journal.read(decoder);
      return journal;
    } catch (const Error& e) {
      feedback->log(std::string("starting over: the journal of these settings cannot be taken: ") + e.what());
      pipeline::remove_journal(dir);
      return pipeline::RunJournal(dir, request);
    }
  } catch (const Error& e) {
    feedback->log(std::string("this run keeps no journal: ") + e.what());
    return std::nullopt;
  }
}

}  // namespace

void RunWorker::run(std::shared_ptr<const model::ModelWeights> weights, const QString& model_path,
                    const widgets::RunSettings& settings, RunFeedback* feedback) {
  lower_current_thread_priority();
  try {
    const auto plan = plan_for(settings);
    const fs::path mp = model_path.toStdString();
    const auto [tokenizer, calibration] = load_calibration(model_path, settings);
    auto decoder = std::make_shared<model::Decoder>(*weights, run_device(), run_dtype());
    Q_EMIT started(static_cast<int>(decoder->num_layers()),
                   tr("%1 %2 on %3")
                       .arg(settings.method, QString::fromStdString(plan.choice_for("").spec.label()),
                            QString::fromStdString(mp.filename().string())),
                   false);

    // Stated, and a run that cannot fit refused, before the calibration passes
    // (for the model-wide method; a model kept in FP has no working set to plan).
    if (const auto& method = plan.choice_for("").method; methods::find_method(method)) {
      pipeline::MemoryPlanRequest need;
      need.config = decoder->config();
      need.device = decoder->device();
      need.dtype = decoder->dtype();
      need.method = method;
      need.nsamples = settings.nsamples;
      need.seqlen = settings.seqlen;
      need.batch = pipeline::PipelineOptions{}.batch;
      need.resident_blocks = decoder->resident_blocks();
      need.spill_codes = decoder->resident_blocks() != 0;
      need.eval_ctx = settings.eval_path.isEmpty() ? 0 : settings.eval_ctx;
      const auto mem = pipeline::plan_memory(need);
      const int64_t device_free = model::available_memory_bytes(need.device);
      const int64_t host_free = model::available_memory_bytes(torch::kCPU);
      const auto text = pipeline::describe(mem, need.device, device_free, host_free);
      feedback->log("memory plan:\n" + text);
      if (!pipeline::fits(mem, need.device, device_free, host_free))
        throw ArgumentError("This run needs more memory than the machine has:\n" + text +
                            "Fewer calibration sequences or a shorter length lower it.");
    }

    auto outcome = std::make_shared<RunOutcome>();
    outcome->settings = settings;
    // Measured after each block.
    auto live = live_slice(*decoder, *tokenizer, settings, feedback);
    if (live) {
      outcome->fp_perplexity = live->fp_ppl();
      Q_EMIT fp_perplexity(outcome->fp_perplexity);
    }
    pipeline::PipelineOptions options;
    options.analyses = true;
    pipeline::RunIdentity identity;
    identity.model = mp;
    identity.plan_json = plan.to_json();
    identity.calibration_text = settings.calibration_path.toStdString();
    identity.nsamples = settings.nsamples;
    identity.seqlen = settings.seqlen;
    identity.device = decoder->device().str();
    identity.dtype = run_dtype_name();
    identity.batch = options.batch;
    identity.analyses = options.analyses;
    auto journal = open_journal(identity, *decoder, feedback);
    if (journal && journal->finished_blocks() > 0)
      feedback->log("going on from block " + std::to_string(journal->finished_blocks()) +
                    ": an interrupted run of these settings finished the blocks before (journal " +
                    journal->dir().string() + ")");
    options.journal = journal ? &*journal : nullptr;
    // A streamed model's finished codes leave memory, as on the command line.
    if (journal && decoder->resident_blocks() != 0) options.spill_dir = journal->dir();
    std::vector<std::pair<int64_t, double>> curve;
    options.on_block = [&](const pipeline::BlockResult& b) {
      constexpr double nan = std::numeric_limits<double>::quiet_NaN();
      widgets::BlockPoint point{static_cast<int>(b.layer), b.output_rel_mse, nan, nan, nan, b.fp_rel_mse};
      for (auto n : b.expert_tokens) point.expert_tokens.append(static_cast<double>(n));
      point.starved_below = static_cast<double>(decoder->config().hidden_size);
      if (live) {
        const auto d = live->measure(*decoder, feedback);
        point.ppl = outcome->perplexity = d.ppl;
        point.mean_kl = outcome->mean_kl = d.mean_kl;
        point.p99_kl = d.p99_kl;
        curve.emplace_back(b.layer + 1, d.ppl);
      }
      Q_EMIT block_done(point);
    };
    try {
      outcome->result = pipeline::run_pipeline(*decoder, calibration, plan, options, *feedback);
    } catch (...) {
      if (journal && journal->finished_blocks() > 0)
        feedback->log("blocks 0-" + std::to_string(journal->finished_blocks() - 1) + " are kept in " +
                      journal->dir().string() + ": Run with the same settings goes on from block " +
                      std::to_string(journal->finished_blocks()));
      throw;
    }
    if (live && !outcome->result.refinements.empty()) {
      // One more point past the last block: the model as the refinement left it.
      const auto d = live->measure(*decoder, feedback);
      outcome->perplexity = d.ppl;
      outcome->mean_kl = d.mean_kl;
      Q_EMIT block_done({static_cast<int>(decoder->num_layers()), std::numeric_limits<double>::quiet_NaN(), d.ppl,
                         d.mean_kl, d.p99_kl});
      feedback->log("after " + outcome->result.refinements.back().method + ": live perplexity " +
                    format_number("%.3f", d.ppl) + ", mean KL " + format_number("%.4f", d.mean_kl));
    }
#if QS_WITH_HDF5
    project::Settings ps;
    ps.calibration_text = settings.calibration_path.toStdString();
    ps.nsamples = settings.nsamples;
    ps.seqlen = settings.seqlen;
    ps.eval_text = settings.eval_path.toStdString();
    ps.eval_ctx = settings.eval_ctx;
    ps.eval_limit = settings.eval_windows;
    ps.device = decoder->device().str();
    ps.dtype = run_dtype_name();
    ps.plan_json = plan.to_json();
    outcome->project = project::project_of_run(*weights, model_path.toStdString(), *decoder, outcome->result, ps);
    if (live) {
      outcome->project.results.ppl_fp = outcome->fp_perplexity;
      outcome->project.results.ppl_quantized = outcome->perplexity;
      outcome->project.results.curve.push_back({0, outcome->fp_perplexity});
      for (const auto& [blocks, ppl] : curve) outcome->project.results.curve.push_back({blocks, ppl});
    }
#endif
    outcome->decoder = std::move(decoder);
    if (journal) outcome->journal = journal->dir();
    Q_EMIT finished(outcome);
  } catch (...) {
    fail(std::current_exception());
  }
}

void RunWorker::refine(std::shared_ptr<const RunOutcome> last, const QString& source_path, const QString& fp_path,
                       std::shared_ptr<const model::ModelWeights> open, const widgets::RunSettings& settings,
                       RunFeedback* feedback) {
  lower_current_thread_priority();
  try {
#if QS_WITH_HDF5
    const std::string label = last ? std::string("the last run") : source_path.toStdString();
    const bool open_is_fp = open && open->quantized.empty();
    std::shared_ptr<const model::ModelWeights> fp = open_is_fp ? open : nullptr;
    project::Project base;
    if (last) {
      base = last->project;
    } else if (source_path.endsWith(QStringLiteral(".qsproj"))) {
      base = project::load_project(label);
    } else {
      const auto provenance = checkpoint::read_provenance(label);
      const fs::path fp_model =
          checkpoint::fp_model_of(label, provenance, fp_path.toStdString(), "choose it when Refine asks for it");
      fp = std::make_shared<const model::ModelWeights>(checkpoint::load_model(fp_model));
      base = project::project_of_checkpoint(open && !open_is_fp ? *open : checkpoint::load_model(label), provenance,
                                            *fp, fp_model.string());
    }
    project::check_refinable(base);
    pipeline::LayerChoice choice;
    set_then(choice, settings.then, settings.then_params, "method panel");
    const auto& refinement = methods::refinement_or_throw(choice.then, "method panel");
    if (!fp) {
      const auto status = project::check_model(base.model);
      if (status.state == project::ModelState::Missing)
        throw IoError(label, status.message + "; the project's quantized layers need their model");
      fp = std::make_shared<const model::ModelWeights>(checkpoint::load_model(base.model.path));
    }
    auto decoder =
        std::make_shared<model::Decoder>(project::with_project_layers(*fp, base, label), run_device(), run_dtype());
    const QString model_path = QString::fromStdString(base.model.path);
    const auto [tokenizer, calibration] = load_calibration(model_path, settings);
    const auto layers = static_cast<int>(decoder->num_layers());
    Q_EMIT started(layers,
                   tr("%1 over %2").arg(settings.then, last ? tr("the last run") : QFileInfo(source_path).fileName()),
                   true);

    auto outcome = std::make_shared<RunOutcome>();
    outcome->settings = settings;
    pipeline::RefinementRun run;
    {
      // The FP model is needed for its hidden states and the live slice only.
      model::Decoder fp_decoder(*fp, run_device(), run_dtype());
      // Measured before and after the refinement, plotted after the last block.
      auto live = live_slice(fp_decoder, *tokenizer, settings, feedback);
      auto measure = [&](int point) {
        const auto d = live->measure(*decoder, feedback);
        outcome->perplexity = d.ppl;
        outcome->mean_kl = d.mean_kl;
        Q_EMIT block_done({point, std::numeric_limits<double>::quiet_NaN(), d.ppl, d.mean_kl, d.p99_kl});
      };
      if (live) {
        outcome->fp_perplexity = live->fp_ppl();
        Q_EMIT fp_perplexity(outcome->fp_perplexity);
        measure(layers - 1);
      }
      run = pipeline::refine_quantized_model(*decoder, fp_decoder, calibration, refinement, choice.then_params,
                                             pipeline::PipelineOptions{}.batch, *feedback);
      if (live) {
        measure(layers);
        feedback->log("after " + choice.then + ": live perplexity " + format_number("%.3f", outcome->perplexity) +
                      ", mean KL " + format_number("%.4f", outcome->mean_kl));
      }
    }
    outcome->result.refinements = {run.result};
    outcome->result.seconds = run.result.seconds;
    outcome->project = project::refined_project(base, run.committed_by_name(), choice.then, choice.then_params);
    if (outcome->fp_perplexity > 0) {
      outcome->project.results.ppl_fp = outcome->fp_perplexity;
      outcome->project.results.ppl_quantized = outcome->perplexity;
    }
    outcome->decoder = std::move(decoder);
    Q_EMIT finished(outcome);
#else
    Q_UNUSED(last);
    Q_UNUSED(fp_path);
    Q_UNUSED(open);
    Q_UNUSED(settings);
    Q_UNUSED(feedback);
    throw IoError(source_path.toStdString(), "this build of QuantScope has no HDF5 support, so it has no projects");
#endif
  } catch (...) {
    fail(std::current_exception());
  }
}

void RunWorker::fail(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const Cancelled&) {
    Q_EMIT failed(tr("Cancelled. The open model is unchanged."), true);
  } catch (const Error& e) {
    Q_EMIT failed(QString::fromUtf8(e.what()), false);
  } catch (const c10::Error& e) {
    Q_EMIT failed(tr("Error in torch: %1").arg(QString::fromUtf8(e.what_without_backtrace())), false);
  } catch (const std::bad_alloc&) {
    Q_EMIT failed(tr("Out of memory. Try fewer calibration sequences or a shorter length."), false);
  } catch (const std::exception& e) {
    Q_EMIT failed(QString::fromUtf8(e.what()), false);
  }
}

}  // namespace qs::app
