#include <QTest>

#include <tuple>

#include "core/error.h"
#include "core/pipeline/quant_plan.h"
#include "tests/support/test_registry.h"

using namespace qs;
using pipeline::QuantPlan;

class TestQuantPlan : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void globMatch() {
    QVERIFY(pipeline::glob_match("*", "model.layers.0.mlp.up_proj"));
    QVERIFY(pipeline::glob_match("*.mlp.*", "model.layers.0.mlp.up_proj"));
    QVERIFY(pipeline::glob_match("model.layers.1*.self_attn.q_proj", "model.layers.12.self_attn.q_proj"));
    QVERIFY(!pipeline::glob_match("model.layers.1.*", "model.layers.12.self_attn.q_proj"));
    QVERIFY(!pipeline::glob_match("*.q_proj", "model.layers.0.self_attn.q_proj.x"));
    QVERIFY(pipeline::glob_match("a*b*c", "aXXbYYbZc"));
  }

  // to_json reads back as the same plan, linear by linear.
  void jsonRoundTrip() {
    QuantPlan plan(QuantPlan::make_choice("gptq", {3, 128, true, 1.0}, "test"));
    plan.add_rule({"*.mlp.*", std::nullopt, 8, std::nullopt, false, std::nullopt, {}, {}, {}});
    plan.add_rule({"model.layers.0.self_attn.q_proj", std::string("fp16"), {}, {}, {}, {}, {}, {}, {}});
    plan.add_rule({"model.layers.1.mlp.down_proj", std::string("lqer"), 4, 64, {}, 0.9,
                   {{"rank", int64_t{8}}, {"base", std::string("gptq")}}, {}, {}});
    const auto again = QuantPlan::from_json(plan.to_json(), QuantPlan::make_choice("rtn", {4, 32, false, 1.0}, "x"), "t");
    for (const char* name : {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                             "model.layers.1.mlp.up_proj", "model.layers.1.mlp.down_proj"}) {
      const auto a = plan.choice_for(name), b = again.choice_for(name);
      QCOMPARE(b.method, a.method);
      QCOMPARE(b.spec.bits, a.spec.bits);
      QCOMPARE(b.spec.group_size, a.spec.group_size);
      QCOMPARE(b.spec.symmetric, a.spec.symmetric);
      QCOMPARE(b.spec.clip_ratio, a.spec.clip_ratio);
      QVERIFY2(b.params.values() == a.params.values(), name);
    }
  }

  void laterRulesWin() {
    const auto plan = QuantPlan::from_json(R"({
        "default": {"method": "gptq", "bits": 3, "params": {"damp_percent": 0.1}},
        "layers": {
          "*.mlp.*": {"bits": 8},
          "model.layers.0.*": {"method": "fp16"},
          "model.layers.0.mlp.down_proj": {"method": "awq", "group": 64, "params": {"n_grid": 10}}
        }})",
                                           QuantPlan::make_choice("rtn", {4, 128, false, 1.0}, "cli"), "plan.json");
    auto c = plan.choice_for("model.layers.3.self_attn.k_proj");
    QCOMPARE(QString::fromStdString(c.method), QString("gptq"));
    QCOMPARE(c.spec.bits, 3);
    QCOMPARE(c.params.get_double("damp_percent"), 0.1);
    c = plan.choice_for("model.layers.3.mlp.up_proj");
    QCOMPARE(c.spec.bits, 8);
    QVERIFY(plan.choice_for("model.layers.0.self_attn.q_proj").keep_fp());
    c = plan.choice_for("model.layers.0.mlp.down_proj");
    QCOMPARE(QString::fromStdString(c.method), QString("awq"));
    QCOMPARE(c.spec.group_size, int64_t{64});
    QCOMPARE(c.params.get_int("n_grid"), int64_t{10});
    QCOMPARE(c.spec.bits, 8);  // from the mlp rule, which still matched
  }

  void errorsNameTheField_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("bad json") << "{\"layers\": " << "invalid JSON";
    QTest::newRow("unknown top field") << R"({"layer": {}})" << "layer";
    QTest::newRow("unknown method") << R"({"layers": {"*": {"method": "magic"}}})" << "magic";
    QTest::newRow("unknown rule field") << R"({"layers": {"*": {"bitz": 3}}})" << "layers.*.bitz";
    QTest::newRow("bits type") << R"({"layers": {"*": {"bits": "three"}}})" << "layers.*.bits";
    QTest::newRow("bad default bits") << R"({"default": {"bits": 12}})" << "bits";
    QTest::newRow("bad param") << R"({"default": {"params": {"act_order": 3}}})" << "act_order";
    QTest::newRow("unknown refinement") << R"({"layers": {"*": {"then": "magic"}}})" << "layers.*.then: unknown refinement 'magic'";
    QTest::newRow("then type") << R"({"default": {"then": 3}})" << "default.then";
    QTest::newRow("then field") << R"({"default": {"then": {"method": "rilq", "rnak": 3}}})" << "then.rnak";
    QTest::newRow("then without method") << R"({"default": {"then": {"params": {}}}})" << "then.method";
    QTest::newRow("bad then param") << R"({"default": {"then": {"method": "rilq", "params": {"rank": 0}}}})"
                                    << "rank";
  }
  void errorsNameTheField() {
    QFETCH(QString, json);
    QFETCH(QString, mentions);
    try {
      QuantPlan::from_json(json.toStdString(), QuantPlan::make_choice("gptq", {4, 128, false, 1.0}, "cli"),
                           "plan.json");
      QFAIL("no error");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains(mentions), e.what());
      QVERIFY2(QString(e.what()).contains("plan.json"), e.what());
    }
  }

  // "then" composes a refinement: a bare name takes its defaults, an object
  // sets parameters, "none" clears it, a rule changing the method keeps it,
  // and to_json reads back the same.
  void thenComposesARefinement() {
    const auto plan = QuantPlan::from_json(R"({
        "default": {"method": "awq", "then": {"method": "rilq", "params": {"rank": 16}}},
        "layers": {
          "*.self_attn.*": {"then": "none"},
          "model.layers.0.self_attn.q_proj": {"then": "rilq"},
          "*.mlp.down_proj": {"method": "gptq"}
        }})",
                                           QuantPlan::make_choice("rtn", {3, 128, false, 1.0}, "cli"), "plan.json");
    auto c = plan.choice_for("model.layers.2.mlp.up_proj");
    QCOMPARE(QString::fromStdString(c.then), QString("rilq"));
    QCOMPARE(c.then_params.get_int("rank"), int64_t{16});
    QCOMPARE(c.then_params.get_double("lr"), 1e-4);
    QVERIFY(c.refined());
    QVERIFY(!plan.choice_for("model.layers.2.self_attn.k_proj").refined());
    c = plan.choice_for("model.layers.0.self_attn.q_proj");
    QCOMPARE(c.then_params.get_int("rank"), int64_t{64});
    c = plan.choice_for("model.layers.2.mlp.down_proj");
    QCOMPARE(QString::fromStdString(c.method), QString("gptq"));
    QCOMPARE(c.then_params.get_int("rank"), int64_t{16});
    const auto again = QuantPlan::from_json(plan.to_json(), QuantPlan::make_choice("rtn", {4, 32, false, 1.0}, "x"), "t");
    for (const char* name : {"model.layers.2.mlp.up_proj", "model.layers.2.self_attn.k_proj",
                             "model.layers.0.self_attn.q_proj", "model.layers.2.mlp.down_proj"}) {
      const auto a = plan.choice_for(name), b = again.choice_for(name);
      QCOMPARE(b.then, a.then);
      QVERIFY2(b.then_params.values() == a.then_params.values(), name);
      QCOMPARE(b.method, a.method);
    }
  }

  // `refine --then` reads "then" as the plan spells it: a bare name takes the
  // refinement's defaults, an object sets parameters over them, and errors
  // name the field.
  void parseRefinementReadsThePlansSpelling() {
    auto [name, params] = pipeline::parse_refinement("rilq", "--then");
    QCOMPARE(QString::fromStdString(name), QString("rilq"));
    QCOMPARE(params.get_int("rank"), int64_t{64});
    std::tie(name, params) = pipeline::parse_refinement(R"({"method": "rilq", "params": {"lr": 0.001, "rank": 16}})", "--then");
    QCOMPARE(params.get_double("lr"), 1e-3);
    QCOMPARE(params.get_int("rank"), int64_t{16});
    QCOMPARE(params.get_int("grad_accum"), int64_t{8});
    for (const auto& [text, mentions] : std::vector<std::pair<std::string, QString>>{
             {"magic", "--then: then: unknown refinement 'magic'"},
             {"none", "names no refinement"},
             {R"({"method": "rilq", "params": {"rank": "big"}})", "rank"},
             {R"({"method": "rilq", "rnak": 3})", "then.rnak"},
             {R"({"params": {}})", "then.method"},
             {R"({"method": "rilq")", "invalid JSON"}}) {
      try {
        pipeline::parse_refinement(text, "--then");
        QFAIL(text.c_str());
      } catch (const ConfigError& e) {
        QVERIFY2(QString(e.what()).contains(mentions) && QString(e.what()).contains("--then"), e.what());
      }
    }
  }

  void ruleErrorsSurfaceAtUse() {
    QuantPlan plan(QuantPlan::make_choice("rtn", {4, 128, false, 1.0}, "cli"));
    plan.add_rule({"*.q_proj", std::nullopt, {}, {}, {}, {}, {{"n_grid", int64_t{3}}}, {}, {}});
    QVERIFY_THROWS_EXCEPTION(ConfigError, plan.choice_for("model.layers.0.self_attn.q_proj"));
    QVERIFY(!plan.choice_for("model.layers.0.self_attn.k_proj").keep_fp());
  }
};

QS_REGISTER_TEST(TestQuantPlan);
#include "test_quant_plan.moc"
