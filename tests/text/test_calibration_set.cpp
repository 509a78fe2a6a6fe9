#include <QTest>

#include "core/error.h"
#include "core/text/calibration_set.h"
#include "tests/support/test_registry.h"

using namespace qs;

class TestCalibrationSet : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void windowsAreSeededSlicesOfTheStream() {
    std::vector<int32_t> tokens(1000);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(i);
    const auto a = text::sample_calibration(tokens, 16, 40, 7, "t.txt");
    const auto b = text::sample_calibration(tokens, 16, 40, 7, "t.txt");
    const auto c = text::sample_calibration(tokens, 16, 40, 8, "t.txt");
    QCOMPARE(a.ids.sizes().vec(), (std::vector<int64_t>{16, 40}));
    QVERIFY(torch::equal(a.ids, b.ids));
    QVERIFY(!torch::equal(a.ids, c.ids));
    // Token i is i here, so each row must count up by one from its start.
    for (int64_t r = 0; r < 16; ++r) {
      const int64_t start = a.ids[r][0].item<int64_t>();
      QVERIFY(start >= 0 && start + 40 <= 1000);
      QVERIFY(torch::equal(a.ids[r], torch::arange(start, start + 40, torch::kLong)));
    }
  }

  void shortTextIsAnError() {
    std::vector<int32_t> tokens(30, 1);
    try {
      text::sample_calibration(tokens, 4, 30, 0, "short.txt");
      QFAIL("no error");
    } catch (const ArgumentError& e) {
      QVERIFY2(QString(e.what()).contains("short.txt"), e.what());
    }
    QVERIFY_THROWS_EXCEPTION(ArgumentError, text::sample_calibration(tokens, 0, 8, 0, "t"));
  }
};

QS_REGISTER_TEST(TestCalibrationSet);
#include "test_calibration_set.moc"
