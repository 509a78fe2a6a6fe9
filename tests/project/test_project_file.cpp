#include <sys/wait.h>
#include <unistd.h>

#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <csignal>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "core/project/hdf5_io.h"
#include "core/project/project_file.h"
#include "core/quant/uniform_quantizer.h"
#include "tests/support/error_of.h"
#include "tests/support/test_registry.h"

using namespace qs;
namespace fs = std::filesystem;

namespace {

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::shared_ptr<const quant::QuantizedLinear> random_record(int64_t out, int64_t in, quant::QuantSpec spec,
                                                            uint64_t seed, bool extras) {
  torch::manual_seed(seed);
  auto q =
      std::make_shared<quant::QuantizedLinear>(quant::QuantizedLinear::round_to_nearest(torch::randn({out, in}), spec));
  if (extras) {
    q->g_idx = torch::randint(0, q->groups(), {in}, torch::kInt32);
    q->bias = torch::randn({out});
    q->input_scale = torch::rand({in}) + 0.5;
    q->lora_a = torch::randn({3, in});
    q->lora_b = torch::randn({out, 3});
    q->transform = torch::eye(in) + 0.1 * torch::randn({in, in});
  }
  return q;
}

// Every field of the schema in use, with values that round-trip only if the
// types are kept (an int64 param, a double that is an integer, a bool).
project::Project sample_project() {
  project::Project p;
  p.model = {"/models/tiny.gguf", "qsfp1:0123456789abcdef", "llama", 2};
  p.settings.calibration_text = "/data/calib ü.txt";
  p.settings.nsamples = 4;
  p.settings.seqlen = 16;
  p.settings.seed = 7;
  p.settings.eval_text = "/data/eval.txt";
  p.settings.eval_limit = 3;
  p.settings.plan_json = R"({"default": {"method": "gptq", "bits": 3}})";
  const int64_t shapes[][2] = {{48, 64}, {64, 96}, {32, 40}};
  const quant::QuantSpec specs[] = {{3, 16, false, 1.0}, {4, 32, true, 0.9}, {8, 0, false, 1.0}};
  for (int i = 0; i < 3; ++i) {
    project::LayerEntry e;
    e.name = "model.layers." + std::to_string(i) + ".mlp.up_proj";
    e.method = i == 1 ? "awq" : "gptq";
    e.spec = specs[i];
    e.params = {{"act_order", i == 0},
                {"block_size", int64_t{128}},
                {"damp", 0.01},
                {"alpha", 1.0},
                {"note", std::string("x")}};
    e.has_metrics = true;
    e.weight_mse = 1e-3 * (i + 1);
    e.output_rel_mse = 2e-3 * (i + 1);
    e.seconds = 0.5 * i;
    e.record = random_record(shapes[i][0], shapes[i][1], specs[i], 10 + i, i == 0);
    e.analyses = {{"sv_weight", torch::rand({shapes[i][0]})}, {"error_map", torch::rand({5, 4})}};
    p.layers.push_back(std::move(e));
  }
  project::LayerEntry fp;
  fp.name = "model.layers.0.self_attn.q_proj";
  fp.method = "fp16";
  p.layers.push_back(fp);
  p.modified_tensors["model.layers.0.input_layernorm.weight"] = torch::rand({64});
  p.results.ppl_fp = 20.5;
  p.results.ppl_quantized = 25.25;
  p.results.curve = {{0, 20.5}, {1, 22.0}, {2, 25.25}};
  p.results.blocks = {{0, 1e-4, 1e-2, 0.3, 5e-2}, {1, 2e-4, 2e-2, 0.4}};  // block 1 measured no FP trajectory
  p.results.kernels = {{1, 4096, 4096, 4, 128, 40.0, 11.5, 1500.0}};
  return p;
}

bool same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.defined() == b.defined() && (!a.defined() || (a.sizes() == b.sizes() && torch::equal(a.to(b.dtype()), b)));
}

void compare(const project::Project& a, const project::Project& b) {
  QCOMPARE(b.model.path, a.model.path);
  QCOMPARE(b.model.fingerprint, a.model.fingerprint);
  QCOMPARE(b.model.num_layers, a.model.num_layers);
  QCOMPARE(b.model.architecture, a.model.architecture);
  QCOMPARE(b.settings.calibration_text, a.settings.calibration_text);
  QCOMPARE(b.settings.nsamples, a.settings.nsamples);
  QCOMPARE(b.settings.seqlen, a.settings.seqlen);
  QCOMPARE(b.settings.seed, a.settings.seed);
  QCOMPARE(b.settings.eval_text, a.settings.eval_text);
  QCOMPARE(b.settings.eval_protocol, a.settings.eval_protocol);
  QCOMPARE(b.settings.eval_ctx, a.settings.eval_ctx);
  QCOMPARE(b.settings.device, a.settings.device);
  QCOMPARE(b.settings.dtype, a.settings.dtype);
  QCOMPARE(b.settings.eval_limit, a.settings.eval_limit);
  QCOMPARE(b.settings.plan_json, a.settings.plan_json);
  QCOMPARE(b.layers.size(), a.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const auto &x = a.layers[i], &y = b.layers[i];
    QCOMPARE(y.name, x.name);
    QCOMPARE(y.method, x.method);
    QCOMPARE(y.spec.bits, x.spec.bits);
    QCOMPARE(y.spec.group_size, x.spec.group_size);
    QCOMPARE(y.spec.symmetric, x.spec.symmetric);
    QCOMPARE(y.spec.clip_ratio, x.spec.clip_ratio);
    QVERIFY(y.params == x.params);
    QCOMPARE(y.has_metrics, x.has_metrics);
    QCOMPARE(y.output_rel_mse, x.output_rel_mse);
    QCOMPARE(y.weight_mse, x.weight_mse);
    QCOMPARE(y.seconds, x.seconds);
    QCOMPARE(y.record != nullptr, x.record != nullptr);
    if (x.record) {
      const auto &q = *x.record, &r = *y.record;
      QCOMPARE(r.spec.group_size, q.spec.group_size);
      QCOMPARE(r.spec.bits, q.spec.bits);
      QCOMPARE(r.spec.symmetric, q.spec.symmetric);
      QCOMPARE(r.spec.clip_ratio, q.spec.clip_ratio);
      QCOMPARE(r.in_features, q.in_features);
      QCOMPARE(r.out_features, q.out_features);
      QVERIFY(same(q.unpacked_codes(), r.unpacked_codes()));
      QVERIFY(same(q.scales, r.scales));
      QVERIFY(same(q.zeros, r.zeros));
      QVERIFY(same(q.g_idx, r.g_idx));
      QVERIFY(same(q.bias, r.bias));
      QVERIFY(same(q.input_scale, r.input_scale));
      QVERIFY(same(q.lora_a, r.lora_a));
      QVERIFY(same(q.lora_b, r.lora_b));
      QVERIFY(same(q.transform, r.transform));
    }
    QCOMPARE(y.analyses.size(), x.analyses.size());
    for (const auto& [k, t] : x.analyses) QVERIFY(same(t, y.analyses.at(k)));
  }
  QCOMPARE(b.modified_tensors.size(), a.modified_tensors.size());
  for (const auto& [k, t] : a.modified_tensors) QVERIFY(same(t, b.modified_tensors.at(k)));
  QCOMPARE(b.results.ppl_quantized, a.results.ppl_quantized);
  QCOMPARE(b.results.ppl_fp, a.results.ppl_fp);
  QCOMPARE(b.results.curve.size(), a.results.curve.size());
  for (size_t i = 0; i < a.results.curve.size(); ++i) {
    QCOMPARE(b.results.curve[i].blocks, a.results.curve[i].blocks);
    QCOMPARE(b.results.curve[i].ppl, a.results.curve[i].ppl);
  }
  QCOMPARE(b.results.blocks.size(), a.results.blocks.size());
  for (size_t i = 0; i < a.results.blocks.size(); ++i) {
    const auto &x = a.results.blocks[i], &y = b.results.blocks[i];
    QVERIFY(x.layer == y.layer && x.output_mse == y.output_mse && x.output_rel_mse == y.output_rel_mse &&
            x.seconds == y.seconds);
    QVERIFY(x.fp_rel_mse == y.fp_rel_mse || (std::isnan(x.fp_rel_mse) && std::isnan(y.fp_rel_mse)));
  }
  QCOMPARE(b.results.kernels.size(), a.results.kernels.size());
  for (size_t i = 0; i < a.results.kernels.size(); ++i) {
    const auto &x = a.results.kernels[i], &y = b.results.kernels[i];
    QVERIFY(x.batch == y.batch && x.out_features == y.out_features && x.in_features == y.in_features &&
            x.bits == y.bits && x.group_size == y.group_size && x.fp16_us == y.fp16_us &&
            x.packed_us == y.packed_us && x.gbps == y.gbps);
  }
}

// Opens a saved project for writing with the raw HDF5 API, to damage it.
project::h5::Node open_for_edit(const fs::path& file, const std::string& group) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hid_t g = H5Gopen2(f, group.c_str(), H5P_DEFAULT);
  H5Fclose(f);  // the group keeps the file open until it is closed
  return project::h5::Node(file.string(), group, project::h5::Handle(g));
}

std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

}  // namespace

class TestProjectFile : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void saveLoadSaveIsIdentical() {
    QTemporaryDir tmp;
    const fs::path a = fs::path(tmp.path().toStdString()) / "a.qsproj";
    const fs::path b = fs::path(tmp.path().toStdString()) / "b.qsproj";
    const auto p = sample_project();
    project::save_project(p, a);
    const auto loaded = project::load_project(a);
    compare(p, loaded);
    project::save_project(loaded, b);
    QVERIFY(bytes_of(a) == bytes_of(b));
    QCOMPARE(leftovers(fs::path(tmp.path().toStdString())).size(), size_t{2});
  }

  // A transform several records share (AffineQuant's q/k/v) is stored once,
  // whether they hold one tensor or equal copies, and read back as one tensor.
  void sharedTransformsAreStoredOnce() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const quant::QuantSpec spec{4, 32, false, 1.0};
    auto with_transforms = [&](const std::vector<torch::Tensor>& transforms) {
      project::Project p = sample_project();
      p.layers.clear();
      const char* roles[] = {"q_proj", "k_proj", "v_proj"};
      for (size_t i = 0; i < transforms.size(); ++i) {
        project::LayerEntry e;
        e.name = std::string("model.layers.0.self_attn.") + roles[i];
        e.method = "affinequant";
        e.spec = spec;
        auto q = std::make_shared<quant::QuantizedLinear>(*random_record(48, 64, spec, 20 + i, false));
        q->transform = transforms[i];
        e.record = q;
        p.layers.push_back(std::move(e));
      }
      return p;
    };
    torch::manual_seed(3);
    const auto t = torch::eye(64) + 0.1 * torch::randn({64, 64});
    const auto shared = with_transforms({t, t, t.clone()});
    const auto distinct = with_transforms({t, t + 1e-3, t + 2e-3});
    project::save_project(shared, dir / "shared.qsproj");
    project::save_project(distinct, dir / "distinct.qsproj");
    // Names of one dataset: 3 in the shared file, 1 in the other.
    auto links = [&](const char* file) {
      const hid_t f = H5Fopen((dir / file).c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
      H5O_info_t info;
      const auto rc = H5Oget_info_by_name(f, "/layers/model.layers.0.self_attn.v_proj/quantized/transform", &info,
                                          H5P_DEFAULT);
      H5Fclose(f);
      return rc < 0 ? -1 : static_cast<int>(info.rc);
    };
    QCOMPARE(links("shared.qsproj"), 3);
    QCOMPARE(links("distinct.qsproj"), 1);

    const auto loaded = project::load_project(dir / "shared.qsproj");
    compare(shared, loaded);
    QVERIFY(loaded.layers[1].record->transform.is_same(loaded.layers[0].record->transform));
    QVERIFY(loaded.layers[2].record->transform.is_same(loaded.layers[0].record->transform));
    const auto apart = project::load_project(dir / "distinct.qsproj");
    compare(distinct, apart);
    QVERIFY(!apart.layers[1].record->transform.is_same(apart.layers[0].record->transform));
  }

  void truncatedFilesRaiseClearErrors() {
    QTemporaryDir tmp;
    const fs::path good = fs::path(tmp.path().toStdString()) / "good.qsproj";
    project::save_project(sample_project(), good);
    const auto bytes = bytes_of(good);
    for (int k = 0; k < 16; ++k) {
      const fs::path cut = fs::path(tmp.path().toStdString()) / ("cut" + std::to_string(k) + ".qsproj");
      std::ofstream(cut, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() * k / 16));
      const auto msg = test::error_of<Error>([&] { project::load_project(cut); });
      QVERIFY2(!msg.isEmpty(), qPrintable("no error at " + QString::number(k) + "/16"));
      QVERIFY2(msg.contains(QString::fromStdString(cut.string())), qPrintable(msg));
    }
  }

  // Flipped bytes anywhere are either caught (Fletcher-32 on every dataset,
  // checksums on the metadata) or fell in slack space and change nothing:
  // a damaged project never loads as different numbers.
  void damagedBytesAreCaughtOrHarmless() {
    QTemporaryDir tmp;
    const fs::path good = fs::path(tmp.path().toStdString()) / "good.qsproj";
    const fs::path bad = fs::path(tmp.path().toStdString()) / "bad.qsproj";
    const auto original = sample_project();
    project::save_project(original, good);
    const auto bytes = bytes_of(good);
    int caught = 0;
    for (int k = 1; k < 32; ++k) {
      auto damaged = bytes;
      for (size_t i = bytes.size() * k / 32, n = 0; n < 16 && i < bytes.size(); ++i, ++n)
        damaged[i] = static_cast<char>(~damaged[i]);
      std::ofstream(bad, std::ios::binary).write(damaged.data(), static_cast<std::streamsize>(damaged.size()));
      try {
        compare(original, project::load_project(bad));
      } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains(QString::fromStdString(bad.string())), e.what());
        ++caught;
      }
    }
    // Small test files are mostly HDF5's 2 KiB metadata blocks with slack.
    QVERIFY2(caught > 0, "no damaged copy was caught");
  }

  void wrongShapeIsRejectedWithItsPath() {
    QTemporaryDir tmp;
    const fs::path file = fs::path(tmp.path().toStdString()) / "p.qsproj";
    project::save_project(sample_project(), file);
    {
      const auto g = open_for_edit(file, "/layers/model.layers.1.mlp.up_proj/quantized");
      H5Ldelete(g.id(), "scales", H5P_DEFAULT);
      g.write("scales", torch::ones({64, 2}));
    }
    const auto msg = test::error_of<FormatError>([&] { project::load_project(file); });
    QVERIFY2(msg.contains("/layers/model.layers.1.mlp.up_proj/quantized/scales"), qPrintable(msg));
    QVERIFY2(msg.contains("shape"), qPrintable(msg));
  }

  // Projects saved before blocks/fp_rel_mse existed read as "not measured".
  void blocksWithoutTheFpTrajectoryColumnLoad() {
    QTemporaryDir tmp;
    const fs::path file = fs::path(tmp.path().toStdString()) / "p.qsproj";
    const auto original = sample_project();
    project::save_project(original, file);
    H5Ldelete(open_for_edit(file, "/results/blocks").id(), "fp_rel_mse", H5P_DEFAULT);
    const auto loaded = project::load_project(file);
    QCOMPARE(loaded.results.blocks.size(), original.results.blocks.size());
    for (size_t i = 0; i < loaded.results.blocks.size(); ++i) {
      QVERIFY(std::isnan(loaded.results.blocks[i].fp_rel_mse));
      QCOMPARE(loaded.results.blocks[i].output_rel_mse, original.results.blocks[i].output_rel_mse);
      QCOMPARE(loaded.results.blocks[i].seconds, original.results.blocks[i].seconds);
    }
  }

  void wrongFpTrajectoryColumnIsRejectedWithItsPath() {
    QTemporaryDir tmp;
    const fs::path file = fs::path(tmp.path().toStdString()) / "p.qsproj";
    project::save_project(sample_project(), file);
    {
      const auto g = open_for_edit(file, "/results/blocks");
      H5Ldelete(g.id(), "fp_rel_mse", H5P_DEFAULT);
      g.write("fp_rel_mse", torch::ones({3}, torch::kFloat64));
    }
    const auto msg = test::error_of<FormatError>([&] { project::load_project(file); });
    QVERIFY2(msg.contains("/results/blocks/fp_rel_mse"), qPrintable(msg));
  }

  void wrongAttributeTypeIsRejected() {
    QTemporaryDir tmp;
    const fs::path file = fs::path(tmp.path().toStdString()) / "p.qsproj";
    project::save_project(sample_project(), file);
    open_for_edit(file, "/layers/model.layers.0.mlp.up_proj").set("bits", std::string("four"));
    const auto msg = test::error_of<FormatError>([&] { project::load_project(file); });
    QVERIFY2(msg.contains("/layers/model.layers.0.mlp.up_proj@bits"), qPrintable(msg));
  }

  void codesOutOfRangeAreRejected() {
    QTemporaryDir tmp;
    const fs::path file = fs::path(tmp.path().toStdString()) / "p.qsproj";
    project::save_project(sample_project(), file);
    {
      const auto g = open_for_edit(file, "/layers/model.layers.2.mlp.up_proj/quantized");
      H5Ldelete(g.id(), "zeros", H5P_DEFAULT);
      g.write("zeros", torch::full({32, 1}, 300, torch::kInt32));
    }
    const auto msg = test::error_of<FormatError>([&] { project::load_project(file); });
    QVERIFY2(msg.contains("zeros"), qPrintable(msg));
  }

  void newerSchemaIsRefused() {
    QTemporaryDir tmp;
    const fs::path file = fs::path(tmp.path().toStdString()) / "p.qsproj";
    project::save_project(sample_project(), file);
    open_for_edit(file, "/").set("schema_version", project::kSchemaVersion + 1);
    const auto msg = test::error_of<FormatError>([&] { project::load_project(file); });
    QVERIFY2(msg.contains("newer QuantScope"), qPrintable(msg));
  }

  void notAProjectIsReported() {
    QTemporaryDir tmp;
    const fs::path file = fs::path(tmp.path().toStdString()) / "p.qsproj";
    std::ofstream(file) << "{\"this\": \"is json\"}";
    QVERIFY(test::error_of<FormatError>([&] { project::load_project(file); }).contains("HDF5"));
    QVERIFY(test::error_of<IoError>([&] { project::load_project(file.string() + ".missing"); }).contains("no such"));
  }

  void failedSaveLeavesThePreviousProject() {
    QTemporaryDir tmp;
    const fs::path dir(tmp.path().toStdString());
    const fs::path file = dir / "p.qsproj";
    const auto before = sample_project();
    project::save_project(before, file);
    const auto saved = bytes_of(file);
    auto changed = before;
    changed.settings.seed = 99;
    const auto msg = test::error_of<IoError>([&] {
      project::save_project(changed, file, [](int64_t done, int64_t) {
        if (done == 2) throw IoError("p.qsproj", "simulated disk full");
      });
    });
    QVERIFY(msg.contains("simulated"));
    QVERIFY(bytes_of(file) == saved);
    QCOMPARE(leftovers(dir), std::vector<std::string>{"p.qsproj"});
  }

  void crashDuringSaveLeavesThePreviousProject() {
    QTemporaryDir tmp;
    const fs::path file = fs::path(tmp.path().toStdString()) / "p.qsproj";
    const auto before = sample_project();
    project::save_project(before, file);
    const auto saved = bytes_of(file);
    auto changed = before;
    changed.settings.seed = 99;
    const pid_t pid = ::fork();
    if (pid == 0) {
      // The child dies mid-save without any cleanup, as a killed process would.
      project::save_project(changed, file, [](int64_t done, int64_t) {
        if (done == 2) ::raise(SIGKILL);
      });
      ::_exit(0);
    }
    QVERIFY(pid > 0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    QVERIFY(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    QVERIFY(bytes_of(file) == saved);
    compare(before, project::load_project(file));
  }
};

QS_REGISTER_TEST(TestProjectFile);
#include "test_project_file.moc"
