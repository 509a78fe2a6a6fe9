#include "app/gui/run_worker.h"

#include <torch/cuda.h>

#include <cmath>
#include <limits>
#include <new>
#include <optional>

#include "app/gui/background_priority.h"
#include "app/gui/calibration_source.h"
#include "app/gui/method_infos.h"
#include "app/gui/run_feedback.h"
#include "core/analysis/logit_divergence.h"
#include "core/error.h"
#include "core/number_format.h"
#include "core/text/calibration_set.h"
#include "core/text/text_file.h"
#include "core/text/tokenizer.h"
#if QS_WITH_HDF5
#include "core/project/project_model.h"
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

}  // namespace

void RunWorker::run(std::shared_ptr<const model::ModelWeights> weights, const QString& model_path,
                    const widgets::RunSettings& settings, RunFeedback* feedback) {
  lower_current_thread_priority();
  try {
    const bool cuda = torch::cuda::is_available();
    const auto plan = plan_for(settings);
    const fs::path mp = model_path.toStdString();
    const auto [tokenizer, calibration] = load_calibration(model_path, settings);
    auto decoder = std::make_shared<model::Decoder>(*weights, cuda ? torch::Device(torch::kCUDA) : torch::kCPU,
                                                    cuda ? torch::kFloat16 : torch::kFloat32);
    Q_EMIT started(static_cast<int>(decoder->num_layers()),
                   tr("%1 %2 on %3")
                       .arg(settings.method, QString::fromStdString(plan.choice_for("").spec.label()),
                            QString::fromStdString(mp.filename().string())));

    auto outcome = std::make_shared<RunOutcome>();
    outcome->settings = settings;
    // The live slice: perplexity and per-token KL to the FP model from one forward pass per block.
    std::optional<analysis::DivergenceReference> live;
    if (!settings.eval_path.isEmpty()) {
      const auto eval_tokens = tokenizer->encode(text::read_text_file(settings.eval_path.toStdString()));
      live = analysis::DivergenceReference::capture(*decoder, eval_tokens, settings.eval_ctx, settings.eval_windows,
                                                    feedback);
      outcome->fp_perplexity = live->fp_ppl();
      Q_EMIT fp_perplexity(outcome->fp_perplexity);
    }
    pipeline::PipelineOptions options;
    options.analyses = true;
    std::vector<std::pair<int64_t, double>> curve;
    options.on_block = [&](const pipeline::BlockResult& b) {
      constexpr double nan = std::numeric_limits<double>::quiet_NaN();
      widgets::BlockPoint point{static_cast<int>(b.layer), b.output_rel_mse, nan, nan, nan};
      if (live) {
        const auto d = live->measure(*decoder, feedback);
        point.ppl = outcome->perplexity = d.ppl;
        point.mean_kl = outcome->mean_kl = d.mean_kl;
        point.p99_kl = d.p99_kl;
        curve.emplace_back(b.layer + 1, d.ppl);
      }
      Q_EMIT block_done(point);
    };
    outcome->result = pipeline::run_pipeline(*decoder, calibration, plan, options, *feedback);
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
    ps.dtype = cuda ? "fp16" : "fp32";
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
    Q_EMIT finished(outcome);
  } catch (const Cancelled&) {
    Q_EMIT failed(tr("Cancelled. The open model is unchanged."), true);
  } catch (const Error& e) {
    Q_EMIT failed(QString::fromUtf8(e.what()), false);
  } catch (const c10::Error& e) {
    Q_EMIT failed(tr("Error in torch: %1").arg(QString::fromUtf8(e.what_without_backtrace())), false);
  } catch (const std::bad_alloc&) {
    Q_EMIT failed(tr("Out of memory. Try fewer calibration sequences or a shorter length."), false);
  }
}

}  // namespace qs::app
