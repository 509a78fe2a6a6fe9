#include <QTemporaryDir>
#include <QTest>

#include "core/methods/gptq_solver.h"
#include "core/model/decoder.h"
#include "core/model/linear_shapes.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/run_journal.h"
#include "tests/pipeline/pipeline_fixtures.h"
#include "tests/support/test_registry.h"

using namespace qs;
using model::LinearKind;
using model::LinearRole;

namespace {

// Two Mixtral-like blocks of six experts (top 2), the second with a shared
// expert as Qwen2-MoE has.
model::ModelConfig tiny_moe_config() {
  auto c = test::tiny_config();
  c.architecture = "qwen2_moe";
  c.vocab_size = 101;
  c.num_experts = 6;
  c.experts_per_token = 2;
  c.expert_intermediate_size = 32;
  c.normalize_expert_weights = true;
  c.shared_expert_intermediate_size = 48;
  return c;
}

// The tokens each expert of block `layer` sees through its gate_proj in a plain forward.
std::vector<int64_t> tokens_at_gates(model::Decoder& d, int64_t layer, const torch::Tensor& ids) {
  std::vector<int64_t> seen(static_cast<size_t>(d.config().num_experts), 0);
  const auto hook = d.add_linear_hook([&](const model::LinearSite& s, const torch::Tensor& in, const torch::Tensor&) {
    if (s.layer == layer && s.role.routed() && s.role.kind == LinearKind::Gate)
      seen[static_cast<size_t>(s.role.expert)] += in.size(0);
  });
  torch::NoGradGuard no_grad;
  d.forward(ids);
  d.remove_hook(hook);
  return seen;
}

}  // namespace

class TestMoePipeline : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // The block's linears: attention, each expert's gate/up/down by its HF name, the shared expert last.
  void expertsAreLinearsWithTheirHfNames() {
    const auto c = tiny_moe_config();
    const auto roles = model::block_linear_roles(c, 0);
    QCOMPARE(static_cast<int64_t>(roles.size()), model::block_linear_count(c, 0));
    QCOMPARE(roles.size(), size_t(4 + 3 * 6 + 3));
    QCOMPARE(model::linear_name(0, roles[4]), std::string("model.layers.0.mlp.experts.0.gate_proj"));
    QCOMPARE(model::linear_name(1, roles[4 + 3 * 5 + 2]), std::string("model.layers.1.mlp.experts.5.down_proj"));
    QCOMPARE(model::linear_name(0, roles.back()), std::string("model.layers.0.mlp.shared_expert.down_proj"));
    for (size_t i = 0; i < roles.size(); ++i) {
      QCOMPARE(model::linear_slot(c, 0, roles[i]), static_cast<int64_t>(i));
      LinearRole parsed;
      QVERIFY(model::parse_linear_role(model::linear_role_name(roles[i]), parsed));
      QVERIFY(parsed == roles[i]);
      if (i > 0) QVERIFY(roles[i - 1] < roles[i]);  // maps keyed by role iterate in execution order
    }
    QCOMPARE(model::linear_slot(c, 0, LinearRole::Gate), int64_t(-1));  // no dense MLP in an MoE block
    // What the kernel bench times: the experts' shapes and the shared expert's, no dense MLP's.
    const auto shapes = model::distinct_linear_shapes(c);
    const auto has = [&](int64_t in, int64_t out) {
      return std::find(shapes.begin(), shapes.end(), model::LinearShape{in, out}) != shapes.end();
    };
    QVERIFY(has(64, 32) && has(32, 64) && has(64, 48) && has(48, 64));
    QVERIFY(!has(64, c.intermediate_size));
    LinearRole r;
    QVERIFY(!model::parse_linear_role("mlp.experts.x.gate_proj", r));
    QVERIFY(!model::parse_linear_role("mlp.experts.3.w1", r));
  }

  // Counted from the router's choices, the tokens per expert are what each
  // expert's gate_proj receives in a forward pass, and sum to tokens × top-k.
  void tokensPerExpertAreRecorded() {
    const auto c = tiny_moe_config();
    const auto w = test::make_tiny_llama(c, 3);
    model::Decoder d(w, torch::kCPU, torch::kFloat32);
    const auto calib = test::random_calibration(c.vocab_size, 4, 12, 5);
    model::Decoder fp(w, torch::kCPU, torch::kFloat32);
    const auto want = tokens_at_gates(fp, 0, calib.ids);
    test::RecordingFeedback fb;
    const pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("rtn", {4, 16, false, 1.0}, "test"));
    const auto r = pipeline::run_pipeline(d, calib, plan, {}, fb);
    QCOMPARE(r.blocks[0].expert_tokens, want);
    int64_t total = 0;
    for (auto n : r.blocks[0].expert_tokens) total += n;
    QCOMPARE(total, int64_t(4 * 12 * 2));
    QCOMPARE(r.layers.size(), size_t(2 * (4 + 3 * 7)));
    // Every expert has fewer tokens than its 64 inputs: each is named in the log.
    bool warned = false;
    for (const auto& l : fb.lines)
      warned = warned || (l.rfind("block 0: calibration tokens per expert", 0) == 0 &&
                          l.find("6 below their 64 inputs") != std::string::npos);
    QVERIFY(warned);
  }

  // Routing every token through every expert changes what the experts see,
  // never what the block outputs.
  void routingAllExpertsKeepsTheOutput() {
    const auto c = tiny_moe_config();
    const auto w = test::make_tiny_llama(c, 4);
    model::Decoder d(w, torch::kCPU, torch::kFloat32);
    const auto ids = test::random_calibration(c.vocab_size, 2, 10, 6).ids;
    torch::NoGradGuard no_grad;
    const auto routed = d.forward(ids);
    d.set_route_all_experts(true);
    // Equal up to the summation order of an expert's product over more rows.
    const double change = ((d.forward(ids) - routed).abs().max() / routed.abs().max()).item<double>();
    QVERIFY2(change < 1e-6, std::to_string(change).c_str());
    for (auto n : tokens_at_gates(d, 1, ids)) QCOMPARE(n, int64_t(2 * 10));
  }

  // GPTQ on every expert: a starved expert (no token routed to it) falls back
  // to round-to-nearest and says so; with every token routed through every
  // expert, each has a full Hessian and GPTQ runs on all.
  void gptqCoversStarvedExperts() {
    auto c = tiny_moe_config();
    c.shared_expert_intermediate_size = 0;
    auto w = test::make_tiny_llama(c, 5);
    // Rows ±v and ±u give every token two logits above zero, so experts 4 and
    // 5, whose rows are zero, are never among the top 2 (larger multiples
    // would underflow the softmax into ties at zero).
    for (int64_t l = 0; l < c.num_layers; ++l) {
      auto& router = w.tensors.at("model.layers." + std::to_string(l) + ".mlp.gate.weight");
      const auto v = torch::randn({c.hidden_size}), u = torch::randn({c.hidden_size});
      router = torch::stack({v, -v, u, -u, torch::zeros_like(v), torch::zeros_like(v)});
    }
    const auto calib = test::random_calibration(c.vocab_size, 4, 16, 7);
    const pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("gptq", {4, 16, false, 1.0}, "test"));
    {
      model::Decoder d(w, torch::kCPU, torch::kFloat32);
      test::RecordingFeedback fb;
      const auto r = pipeline::run_pipeline(d, calib, plan, {}, fb);
      QCOMPARE(r.blocks[0].expert_tokens[5], int64_t(0));
      QCOMPARE(r.blocks[1].expert_tokens[4], int64_t(0));
      bool fell_back = false;
      for (const auto& l : fb.lines)
        fell_back = fell_back || l.find("no calibration token reached model.layers.") != std::string::npos;
      QVERIFY(fell_back);
      // The starved expert's codes are RTN's.
      for (const auto& lr : r.layers)
        if (lr.role == LinearRole(LinearKind::Down, 5)) {
          const auto rtn = quant::QuantizedLinear::round_to_nearest(
              w.tensors.at(lr.name + ".weight").to(torch::kFloat32), lr.record->spec);
          QVERIFY(torch::equal(lr.record->dequantized_weight(), rtn.dequantized_weight()));
        }
    }
    pipeline::PipelineOptions all;
    all.route_all_experts = true;
    model::Decoder d(w, torch::kCPU, torch::kFloat32);
    test::RecordingFeedback fb;
    pipeline::run_pipeline(d, calib, plan, all, fb);
    for (const auto& l : fb.lines) QVERIFY2(l.find("no calibration token reached") == std::string::npos, l.c_str());
    QVERIFY(!d.route_all_experts());  // the run's routing ends with the run
  }

  // A resumed run reads the token counts back from the journal.
  void journalKeepsTokensPerExpert() {
    const auto c = tiny_moe_config();
    const auto w = test::make_tiny_llama(c, 6);
    const auto calib = test::random_calibration(c.vocab_size, 3, 8, 8);
    const pipeline::QuantPlan plan(pipeline::QuantPlan::make_choice("rtn", {4, 16, false, 1.0}, "test"));
    QTemporaryDir tmp;
    const std::filesystem::path dir = tmp.path().toStdString() + "/journal";
    const nlohmann::ordered_json request = {{"test", "moe"}};
    std::vector<int64_t> first;
    {
      model::Decoder d(w, torch::kCPU, torch::kFloat32);
      pipeline::RunJournal journal(dir, request);
      pipeline::PipelineOptions o;
      o.journal = &journal;
      test::RecordingFeedback fb;
      first = pipeline::run_pipeline(d, calib, plan, o, fb).blocks[1].expert_tokens;
    }
    model::Decoder d(w, torch::kCPU, torch::kFloat32);
    pipeline::RunJournal journal(dir, request);
    QCOMPARE(journal.finished_blocks(), int64_t(2));
    pipeline::PipelineOptions o;
    o.journal = &journal;
    test::RecordingFeedback fb;
    QCOMPARE(pipeline::run_pipeline(d, calib, plan, o, fb).blocks[1].expert_tokens, first);
  }
};

QS_REGISTER_TEST(TestMoePipeline);
#include "test_moe_pipeline.moc"
