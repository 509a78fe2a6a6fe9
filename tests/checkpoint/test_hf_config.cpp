#include <QTest>
#include <nlohmann/json.hpp>

#include "core/checkpoint/hf_config.h"
#include "core/error.h"
#include "core/model/architecture.h"
#include "tests/support/test_registry.h"

using namespace qs;

class TestHfConfig : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void smollm() {
    // SmolLM2-135M's config.json (abridged to the fields we read).
    const auto c = checkpoint::parse_hf_config(R"({
      "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152,
      "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
      "num_attention_heads": 9, "num_key_value_heads": 3, "max_position_embeddings": 8192,
      "rms_norm_eps": 1e-05, "rope_theta": 100000, "rope_scaling": null,
      "tie_word_embeddings": true, "torch_dtype": "bfloat16", "bos_token_id": 1, "eos_token_id": 2})",
                                               "smollm/config.json");
    QCOMPARE(c.architecture, std::string("llama"));
    QCOMPARE(c.head_dim, int64_t(64));
    QCOMPARE(c.num_kv_heads, int64_t(3));
    QVERIFY(c.tie_word_embeddings);
    QCOMPARE(c.rope_theta, 100000.0);
    QVERIFY(c.rope_scaling.type.empty());
    QVERIFY(!c.attention_bias);
  }

  void llama31RopeScalingAndEosList() {
    const auto c = checkpoint::parse_hf_config(R"({
      "model_type": "llama", "vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336,
      "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
      "rope_theta": 500000.0, "eos_token_id": [128001, 128008, 128009],
      "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 8192, "rope_type": "llama3"}})",
                                               "llama31/config.json");
    QCOMPARE(c.rope_scaling.type, std::string("llama3"));
    QCOMPARE(c.rope_scaling.factor, 8.0);
    QCOMPARE(c.eos_token_id, int64_t(128001));
    QVERIFY(!c.tie_word_embeddings);
  }

  void transformers5RopeParametersAndDtype() {
    // transformers >= 5 keeps rope_theta only inside rope_parameters and writes "dtype".
    const auto c = checkpoint::parse_hf_config(R"({"model_type": "llama", "vocab_size": 49152,
      "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
      "num_attention_heads": 9, "num_key_value_heads": 3, "dtype": "bfloat16",
      "rope_parameters": {"rope_theta": 100000.0, "rope_type": "default"}})",
                                               "t5/config.json");
    QCOMPARE(c.rope_theta, 100000.0);
    QVERIFY(c.rope_scaling.type.empty());
    QCOMPARE(c.torch_dtype, std::string("bfloat16"));
    const auto l = checkpoint::parse_hf_config(R"({"model_type": "llama", "vocab_size": 128256,
      "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
      "num_attention_heads": 32, "num_key_value_heads": 8,
      "rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3", "factor": 8.0,
        "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})",
                                               "llama31-t5/config.json");
    QCOMPARE(l.rope_theta, 500000.0);
    QCOMPARE(l.rope_scaling.type, std::string("llama3"));
    QCOMPARE(l.rope_scaling.factor, 8.0);
  }

  void qwen2HasBiasMistralWindow() {
    const auto q = checkpoint::parse_hf_config(R"({"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896,
      "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
      "num_key_value_heads": 2, "rope_theta": 1000000.0, "tie_word_embeddings": true})",
                                               "qwen");
    QVERIFY(q.attention_bias);
    QVERIFY(!q.output_bias && !q.mlp_bias);
    QCOMPARE(q.head_dim, int64_t(64));
    const auto m = checkpoint::parse_hf_config(R"({"model_type": "mistral", "vocab_size": 32000, "hidden_size": 4096,
      "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
      "num_key_value_heads": 8, "head_dim": 128, "sliding_window": null})",
                                               "mistral");
    QCOMPARE(m.architecture, std::string("mistral"));
    QCOMPARE(m.head_dim, int64_t(128));
  }

  // Llama's attention_bias covers q/k/v and o, mlp_bias gate/up/down; both
  // are written back.
  void llamaBiasFlagsCoverTheirGroups() {
    const auto c = checkpoint::parse_hf_config(R"({"model_type": "llama", "vocab_size": 100, "hidden_size": 64,
      "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "attention_bias": true,
      "mlp_bias": true})",
                                               "llama");
    QVERIFY(c.attention_bias && c.output_bias && c.mlp_bias);
    const auto back = checkpoint::parse_hf_config(checkpoint::hf_config_to_json(c, "float32"), "written");
    QVERIFY(back.attention_bias && back.output_bias && back.mlp_bias);
    const auto plain =
        checkpoint::parse_hf_config(checkpoint::hf_config_to_json(checkpoint::parse_hf_config(R"({"model_type": "llama",
      "vocab_size": 100, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
      "num_attention_heads": 4})",
                                                                                              "plain"),
                                                                  "float32"),
                                    "written");
    QVERIFY(!plain.attention_bias && !plain.output_bias && !plain.mlp_bias);
  }

  // Family defaults where the config is silent, as transformers' config
  // classes fill them, and every option written back and read again.
  void familyOptionsDefaultAndRoundTrip() {
    const std::string sizes = R"("vocab_size": 100, "hidden_size": 64, "intermediate_size": 96,
      "num_hidden_layers": 6, "num_attention_heads": 4, "head_dim": 16)";
    const auto g2 = checkpoint::parse_hf_config(R"({"model_type": "gemma2", )" + sizes + "}", "g2");
    QVERIFY(g2.norm_plus_one && g2.sandwich_norms && g2.scale_embedding && g2.tie_word_embeddings && !g2.qk_norm);
    QVERIFY(g2.activation == model::Activation::GeluTanh);
    QCOMPARE(g2.attn_logit_softcapping, 50.0);
    QCOMPARE(g2.final_logit_softcapping, 30.0);
    QCOMPARE(g2.query_pre_attn_scalar, 256.0);
    QCOMPARE(g2.sliding_window, int64_t(4096));
    QVERIFY(g2.sliding(0) && !g2.sliding(1) && g2.sliding(4) && !g2.sliding(5));
    // transformers' Gemma configs reject a float here.
    QVERIFY(nlohmann::json::parse(checkpoint::hf_config_to_json(g2, "bfloat16"))["query_pre_attn_scalar"].is_number_integer());

    // Gemma 3 as released before transformers 5: two RoPE bases as separate keys.
    const auto g3 = checkpoint::parse_hf_config(R"({"model_type": "gemma3_text", )" + sizes + R"(,
      "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "sliding_window": 512,
      "rope_scaling": {"rope_type": "linear", "factor": 8.0}, "final_logit_softcapping": null})",
                                                "g3");
    QVERIFY(g3.qk_norm && g3.norm_plus_one);
    QCOMPARE(g3.attn_logit_softcapping, 0.0);
    QCOMPARE(g3.final_logit_softcapping, 0.0);
    QCOMPARE(g3.sliding_rope_theta, 10000.0);
    QCOMPARE(g3.rope_theta, 1000000.0);
    QCOMPARE(g3.rope_scaling.factor, 8.0);
    for (int64_t l = 0; l < 6; ++l) QCOMPARE(g3.sliding(l), l != 5);

    const auto mistral = checkpoint::parse_hf_config(R"({"model_type": "mistral", )" + sizes + "}", "m");
    QCOMPARE(mistral.sliding_window, int64_t(4096));
    QVERIFY(mistral.sliding(0) && mistral.sliding(5));
    const auto qwen3 = checkpoint::parse_hf_config(R"({"model_type": "qwen3", )" + sizes +
                                                       R"(, "use_sliding_window": true, "sliding_window": 64,
      "max_window_layers": 4})",
                                                   "q3");
    QVERIFY(qwen3.qk_norm && !qwen3.sliding(3) && qwen3.sliding(4));

    // Phi-3.5-mini as released: "su"-era LongRoPE renamed, the original
    // context at the top level, the factor derived from the two contexts.
    std::string half_lists = R"("short_factor": [1, 1, 1, 1, 1, 1], "long_factor": [2, 2, 2, 2, 2, 2])";
    const auto phi3 = checkpoint::parse_hf_config(R"({"model_type": "phi3", )" + sizes + R"(,
      "partial_rotary_factor": 0.75, "max_position_embeddings": 131072, "original_max_position_embeddings": 4096,
      "sliding_window": 262144, "pad_token_id": 32000, "rope_scaling": {"type": "longrope", )" + half_lists + "}}",
                                                  "phi3");
    QCOMPARE(phi3.rotary_dim(), int64_t(12));
    QCOMPARE(phi3.pad_token_id, int64_t(32000));
    QCOMPARE(phi3.rope_scaling.type, std::string("longrope"));
    QCOMPARE(phi3.rope_scaling.factor, 32.0);
    QCOMPARE(phi3.rope_scaling.original_max_position_embeddings, int64_t(4096));
    QVERIFY(phi3.sliding(0));
    const auto* arch = model::find_architecture("phi3");
    QVERIFY(arch && arch->split_fused && arch->fused_linears.size() == 2);

    for (const auto& c : {g2, g3, mistral, qwen3, phi3}) {
      const auto back = checkpoint::parse_hf_config(checkpoint::hf_config_to_json(c, "bfloat16"), "written");
      QCOMPARE(back.architecture, c.architecture);
      QVERIFY(back.activation == c.activation);
      QCOMPARE(back.qk_norm, c.qk_norm);
      QCOMPARE(back.norm_plus_one, c.norm_plus_one);
      QCOMPARE(back.sandwich_norms, c.sandwich_norms);
      QCOMPARE(back.scale_embedding, c.scale_embedding);
      QCOMPARE(back.tie_word_embeddings, c.tie_word_embeddings);
      QCOMPARE(back.query_pre_attn_scalar, c.query_pre_attn_scalar);
      QCOMPARE(back.attn_logit_softcapping, c.attn_logit_softcapping);
      QCOMPARE(back.final_logit_softcapping, c.final_logit_softcapping);
      QCOMPARE(back.sliding_window, c.sliding_window);
      QVERIFY(back.layer_types == c.layer_types);
      QCOMPARE(back.sliding_rope_theta, c.sliding_rope_theta);
      QCOMPARE(back.rope_theta, c.rope_theta);
      QCOMPARE(back.rope_scaling.factor, c.rope_scaling.factor);
      QCOMPARE(back.rope_scaling.type, c.rope_scaling.type);
      QVERIFY(back.rope_scaling.short_factor == c.rope_scaling.short_factor);
      QVERIFY(back.rope_scaling.long_factor == c.rope_scaling.long_factor);
      QCOMPARE(back.rope_scaling.original_max_position_embeddings, c.rope_scaling.original_max_position_embeddings);
      QCOMPARE(back.partial_rotary_factor, c.partial_rotary_factor);
      QCOMPARE(back.pad_token_id, c.pad_token_id);
    }
  }

  void errorsNameFileAndField_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("field");
    const QString base = R"("vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
      "num_hidden_layers": 1, "num_attention_heads": 2)";
    QTest::newRow("unknown architecture") << R"({"model_type": "gpt2", )" + base + "}"
                                          << "model_type";
    QTest::newRow("missing model_type") << "{" + base + "}"
                                        << "model_type";
    QTest::newRow("bad json") << R"({"model_type": "llama", )"
                              << "invalid JSON";
    QTest::newRow("string size") << R"({"model_type": "llama", "vocab_size": "10", "hidden_size": 8})"
                                 << "vocab_size";
    QTest::newRow("missing size") << R"({"model_type": "llama", "vocab_size": 10})"
                                  << "hidden_size";
    QTest::newRow("heads do not divide") << R"({"model_type": "llama", )" + base + R"(, "num_key_value_heads": 3})"
                                         << "num_key_value_heads";
    QTest::newRow("zero layers") << R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
      "intermediate_size": 16, "num_hidden_layers": 0, "num_attention_heads": 2})"
                                 << "num_hidden_layers";
    // Found by fuzz_hf_config: Mistral's window table was sized by -4 as a size_t.
    QTest::newRow("negative layers with a window")
        << R"({"model_type": "mistral", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
      "num_hidden_layers": -4, "num_attention_heads": 2, "sliding_window": 8})"
        << "num_hidden_layers";
    QTest::newRow("absurd layer count") << R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
      "intermediate_size": 16, "num_hidden_layers": 9223372036854775807, "num_attention_heads": 2})"
                                        << "num_hidden_layers";
    QTest::newRow("layer_types length") << R"({"model_type": "gemma2", )" + base +
                                               R"(, "layer_types": ["full_attention", "full_attention"]})"
                                        << "layer_types";
    QTest::newRow("layer type unknown") << R"({"model_type": "llama", )" + base +
                                               R"(, "layer_types": ["chunked_attention"]})"
                                        << "layer_types";
    QTest::newRow("layer_types not a list") << R"({"model_type": "llama", )" + base + R"(, "layer_types": 3})"
                                            << "layer_types";
    QTest::newRow("window pattern zero") << R"({"model_type": "gemma3_text", )" + base +
                                                R"(, "sliding_window_pattern": 0})"
                                         << "sliding_window_pattern";
    QTest::newRow("activation") << R"({"model_type": "llama", )" + base + R"(, "hidden_act": "relu"})"
                                << "hidden_act";
    QTest::newRow("softcap type") << R"({"model_type": "gemma2", )" + base + R"(, "attn_logit_softcapping": "50"})"
                                  << "attn_logit_softcapping";
    QTest::newRow("rope per type") << R"({"model_type": "gemma3_text", )" + base +
                                          R"(, "rope_parameters": {"sliding_attention": []}})"
                                   << "rope_parameters.sliding_attention";
    QTest::newRow("longrope factors") << R"({"model_type": "phi3", )" + base +
                                             R"(, "rope_scaling": {"rope_type": "longrope", "short_factor": [1],
      "long_factor": [1, 2], "original_max_position_embeddings": 16}})"
                                      << "short_factor";
    QTest::newRow("longrope factor type") << R"({"model_type": "phi3", )" + base +
                                                 R"(, "rope_scaling": {"rope_type": "longrope", "short_factor": ["1"]}})"
                                          << "rope_scaling.short_factor";
    QTest::newRow("partial rotary") << R"({"model_type": "phi3", )" + base + R"(, "partial_rotary_factor": 1.5})"
                                    << "partial_rotary_factor";
    QTest::newRow("unknown rope") << R"({"model_type": "llama", )" + base +
                                         R"(, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}})"
                                  << "rope_scaling";
    QTest::newRow("size past int64") << R"({"model_type": "llama", "vocab_size": 18446744073709551615, "hidden_size": 8})"
                                     << "vocab_size: expected an integer below 2^63, found 18446744073709551615";
    QTest::newRow("multimodal around an unknown model") << R"({"model_type": "llava", "text_config": {"model_type": "gpt2", )" +
                                                               base + "}}"
                                                        << "text_config.model_type: unsupported architecture 'gpt2' in "
                                                           "the text_config of 'llava'";
    QTest::newRow("multimodal text_config field")
        << R"({"model_type": "gemma3", "text_config": {"model_type": "gemma3_text", "vocab_size": "10"}})"
        << "text_config.vocab_size";
  }
  void errorsNameFileAndField() {
    QFETCH(QString, json);
    QFETCH(QString, field);
    try {
      checkpoint::parse_hf_config(json.toStdString(), "m/config.json");
      QFAIL("no error");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains("m/config.json"), e.what());
      QVERIFY2(QString(e.what()).contains(field), e.what());
    }
  }
};

QS_REGISTER_TEST(TestHfConfig);
#include "test_hf_config.moc"
