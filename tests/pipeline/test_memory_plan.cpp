#include <QTest>

#include <algorithm>

#include "core/error.h"
#include "core/model/decoder.h"
#include "core/pipeline/memory_plan.h"
#include "tests/support/test_registry.h"
#include "tests/support/tiny_llama.h"

using namespace qs;

namespace {

// Llama-3-8B's shapes.
model::ModelConfig eight_b() {
  auto c = test::tiny_config();
  c.hidden_size = 4096;
  c.intermediate_size = 14336;
  c.num_layers = 32;
  c.num_heads = 32;
  c.num_kv_heads = 8;
  c.head_dim = 128;
  c.vocab_size = 128256;
  return c;
}

int64_t item(const pipeline::MemoryPlan& p, const std::string& starts) {
  for (const auto& i : p.items)
    if (i.what.rfind(starts, 0) == 0) return i.device_bytes + i.host_bytes;
  return -1;
}

}  // namespace

class TestMemoryPlan : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // Qwen3-30B-A3B's shapes: an MoE block holds 128 experts' weights, and GPTQ
  // (one stage) holds a Hessian per expert input beside attention's.
  void moeBlocksCountEveryExpert() {
    auto c = test::tiny_config();
    c.architecture = "qwen3_moe";
    c.hidden_size = 2048;
    c.intermediate_size = 6144;
    c.num_layers = 48;
    c.num_heads = 32;
    c.num_kv_heads = 4;
    c.head_dim = 128;
    c.vocab_size = 151936;
    c.num_experts = 128;
    c.experts_per_token = 8;
    c.expert_intermediate_size = 768;
    const int64_t H = 2048, q = 32 * 128, kv = 4 * 128, I = 768, E = 128;
    const int64_t block_params = 2 * q * H + 2 * kv * H + E * 3 * I * H;
    QCOMPARE(model::block_weight_bytes(c, torch::kBFloat16), (block_params + E * H) * 2);
    pipeline::MemoryPlanRequest r;
    r.config = c;
    r.method = "gptq";
    r.nsamples = 8;
    r.seqlen = 64;
    r.batch = 1;
    r.resident_blocks = 1;
    r.spill_codes = true;
    const auto p = pipeline::plan_memory(r);
    // Largest while o_proj, whose input (4096) is the widest, is solved: its
    // Hessian and every expert's (gate/up's and down's) wait, beside the
    // factor of its inverse and its weight and codes.
    const int64_t waiting = 4 * (q * q + E * (H * H + I * I));
    QCOMPARE(item(p, "GPTQ's largest phase"), waiting + 4 * q * q + H * q * 6);
    QCOMPARE(item(p, "codes"), block_params);
    r.spill_codes = false;
    r.resident_blocks = 0;
    QCOMPARE(item(pipeline::plan_memory(r), "codes"), 48 * block_params);
  }

  void streamingHoldsOneBlockAndSpilledCodes() {
    pipeline::MemoryPlanRequest r;
    r.config = eight_b();
    r.method = "gptq";
    r.nsamples = 16;
    r.resident_blocks = 0;
    r.spill_codes = false;
    const auto resident = pipeline::plan_memory(r);
    r.resident_blocks = 1;
    r.spill_codes = true;
    const auto streamed = pipeline::plan_memory(r);
    const int64_t block = model::block_weight_bytes(r.config, r.dtype);
    QCOMPARE(item(resident, "weights"), 2 * 32 * block);
    // Streamed, GPTQ's quantized copy of a block exists only while its outputs
    // are computed, a phase planned with the others.
    QCOMPARE(item(streamed, "weights"), block);
    // One-byte codes: every block's, or the block being written.
    QCOMPARE(item(resident, "codes") * 1, item(streamed, "codes") * 32);
    QVERIFY(streamed.host_peak < resident.host_peak / 5);
    QVERIFY(streamed.modeled);
  }

  // GPTQ's phases of a block at 8B shapes: down_proj's solve (its 14336²
  // Hessian, the factor of the inverse beside it, the weight in float32 and
  // its codes), capturing (every Hessian and a batch's intermediates), and
  // the outputs (the quantized block and a batch). The plan takes the largest.
  void gptqPlansItsLargestPhase() {
    pipeline::MemoryPlanRequest r;
    r.config = eight_b();
    r.method = "gptq";
    r.resident_blocks = 1;
    const int64_t I = 14336, H = 4096;
    const int64_t batch = 8 * 512 * (3 * I + 4 * H) * 4;
    const int64_t solve = 2 * I * I * 4 + H * I * (4 + 2);
    const int64_t capture = batch + (3 * H * H + I * I) * 4;
    const int64_t output = batch + model::block_weight_bytes(r.config, r.dtype);
    QCOMPARE(item(pipeline::plan_memory(r), "GPTQ"), std::max({solve, capture, output}));
  }

  void aGpuRunKeepsCodesAndRuntimeOnTheHost() {
    pipeline::MemoryPlanRequest r;
    r.config = eight_b();
    r.device = torch::Device(torch::kCUDA, 0);
    r.dtype = torch::kFloat16;
    r.method = "rtn";
    const auto p = pipeline::plan_memory(r);
    QCOMPARE(p.host_peak, item(p, "codes") + item(p, "runtime"));
    QCOMPARE(p.device_peak + p.host_peak, [&] {
      int64_t sum = 0;
      for (const auto& i : p.items) sum += i.device_bytes + i.host_bytes;
      return sum;
    }());
  }

  void learnedMethodsSayTheyAreNotModeled() {
    pipeline::MemoryPlanRequest r;
    r.config = eight_b();
    r.method = "lwc";
    const auto p = pipeline::plan_memory(r);
    QVERIFY(!p.modeled);
    QVERIFY(p.note.find("lwc") != std::string::npos);
    // It carries the FP trajectory: a third copy of the activations.
    QCOMPARE(item(p, "calibration"), 3 * r.nsamples * r.seqlen * r.config.hidden_size * 4);
    r.method = "nonsense";
    QVERIFY_THROWS_EXCEPTION(ConfigError, pipeline::plan_memory(r));
  }

  // A run that measures perplexity holds, between blocks, a window's logits
  // and log-softmax and the head converted from its stored pages; only what
  // exceeds the calibration state and GPTQ's phase adds to the peak.
  void perplexityWindowsAddTheirExcessOverTheMethod() {
    pipeline::MemoryPlanRequest r;
    r.config = eight_b();
    r.config.torch_dtype = "bfloat16";
    r.method = "gptq";
    r.nsamples = 16;
    const auto without = pipeline::plan_memory(r);
    QCOMPARE(item(without, "perplexity"), int64_t{-1});
    r.eval_ctx = 2048;
    const auto with = pipeline::plan_memory(r);
    const auto& c = r.config;
    const int64_t eval = 2 * int64_t{2048} * c.vocab_size * 4 + model::kHeadChunkRows * c.hidden_size * 4 +
                         c.vocab_size * c.hidden_size * 2;
    const int64_t method = item(with, "calibration") + item(with, "GPTQ");
    QCOMPARE(item(with, "perplexity"), eval - method);
    QCOMPARE(with.host_peak, without.host_peak + eval - method);
    r.eval_ctx = 8;  // a window smaller than the method's working set adds nothing
    QCOMPARE(item(pipeline::plan_memory(r), "perplexity"), int64_t{0});
  }

  // RILQ over a streamed 8B: one quantized and one FP block, the head kept
  // for the backward and its bf16 pages while converted, one checkpointed sequence, and rank-64 adapters on the
  // 224 linears with four float32 companions each. Resident, the graph of
  // every block replaces the checkpoints and both models' vocabulary
  // matrices are converted.
  void refinementPlansTheCheckpointedSequence() {
    pipeline::RefinementPlanRequest r;
    r.config = eight_b();
    r.config.torch_dtype = "bfloat16";
    r.nsamples = 16;
    r.seqlen = 512;
    const auto& c = r.config;
    const auto p = pipeline::plan_refinement_memory(r);
    QCOMPARE(item(p, "weights"), 2 * model::block_weight_bytes(c, torch::kFloat32));
    QCOMPARE(item(p, "the head"), c.vocab_size * c.hidden_size * 4);
    QCOMPARE(item(p, "FP model's last hidden"), int64_t{16} * 512 * 4096 * 4);
    // Σ rank·(in + out) over q, k, v, o, gate, up, down.
    const int64_t per_block = 64 * ((4096 + 4096) + 2 * (4096 + 1024) + (4096 + 4096) + 3 * (4096 + 14336));
    QCOMPARE(item(p, "adapters"), 5 * 4 * per_block * 32);
    QCOMPARE(item(p, "logits"), int64_t{4} * 512 * 128256 * 4);
    QCOMPARE(item(p, "the head's stored pages"), c.vocab_size * c.hidden_size * 2);  // bf16
    const int64_t checkpoints = item(p, "one sequence");
    QVERIFY(checkpoints > int64_t{32} * 512 * 4096 * 4);
    int64_t sum = 0;
    for (const auto& i : p.items) sum += i.device_bytes + i.host_bytes;
    QCOMPARE(p.host_peak, sum);

    r.resident_blocks = 0;
    const auto all = pipeline::plan_refinement_memory(r);
    QCOMPARE(item(all, "weights"), 2 * 32 * model::block_weight_bytes(c, torch::kFloat32));
    QCOMPARE(item(all, "embedding and head"), 2 * 2 * c.vocab_size * c.hidden_size * 4);  // untied
    QCOMPARE(item(all, "one sequence"), 32 * (checkpoints - int64_t{32} * 512 * 4096 * 4));
  }

  // A run is refused when its peak exceeds what is available where it is
  // counted: the device's peak against the device, and on a GPU the host's
  // against the host. Unknown availability and unmodeled methods never refuse.
  // Soft-capped scores (Gemma 2) and windows shorter than the sequence are
  // computed outside the fused kernel: [heads, T, T] float32 three times per
  // sequence of a batch, and in perplexity windows; a window longer than the
  // sequence changes nothing.
  void materialisedAttentionScoresArePlanned() {
    pipeline::MemoryPlanRequest r;
    r.config = eight_b();
    r.method = "rtn";
    r.nsamples = 16;
    r.seqlen = 2048;
    r.batch = 2;
    const auto plain = pipeline::plan_memory(r);
    QCOMPARE(item(plain, "one batch's attention scores"), int64_t(-1));
    r.config.sliding_window = 4096;
    r.config.layer_types.assign(32, model::AttentionSpan::Sliding);
    QCOMPARE(item(pipeline::plan_memory(r), "one batch's attention scores"), int64_t(-1));
    r.config.sliding_window = 1024;
    const auto windowed = pipeline::plan_memory(r);
    QCOMPARE(item(windowed, "one batch's attention scores"), int64_t(2) * 3 * 32 * 2048 * 2048 * 4);
    QCOMPARE(windowed.host_peak - plain.host_peak, int64_t(2) * 3 * 32 * 2048 * 2048 * 4);
    r.config.sliding_window = 0;
    r.config.attn_logit_softcapping = 50.0;
    QCOMPARE(item(pipeline::plan_memory(r), "one batch's attention scores"), int64_t(2) * 3 * 32 * 2048 * 2048 * 4);
  }

  void fitsComparesEachPeakWithItsMemory() {
    pipeline::MemoryPlanRequest r;
    r.config = eight_b();
    r.method = "rtn";
    const auto cpu = pipeline::plan_memory(r);
    QVERIFY(pipeline::fits(cpu, r.device, cpu.device_peak, -1));
    QVERIFY(!pipeline::fits(cpu, r.device, cpu.device_peak - 1, -1));
    QVERIFY(pipeline::fits(cpu, r.device, -1, -1));
    r.device = torch::Device(torch::kCUDA, 0);
    r.dtype = torch::kFloat16;
    const auto gpu = pipeline::plan_memory(r);
    QVERIFY(pipeline::fits(gpu, r.device, gpu.device_peak, gpu.host_peak));
    QVERIFY(!pipeline::fits(gpu, r.device, gpu.device_peak, gpu.host_peak - 1));
    QVERIFY(!pipeline::fits(gpu, r.device, gpu.device_peak - 1, gpu.host_peak));
    r.method = "lwc";
    QVERIFY(pipeline::fits(pipeline::plan_memory(r), r.device, 0, 0));
  }
};

QS_REGISTER_TEST(TestMemoryPlan);
#include "test_memory_plan.moc"
