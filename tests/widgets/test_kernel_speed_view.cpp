#include <QTest>

#include "tests/support/test_registry.h"
#include "widgets/kernel_speed_view.h"
#include "widgets/qcustomplot_include.h"

using namespace qs::widgets;

namespace {

KernelSpeedReport sample_report(bool gpu) {
  KernelSpeedReport r;
  r.device = gpu ? "NVIDIA H100" : "cpu";
  r.baseline = gpu ? "FP16 cuBLAS (at::mm)" : "fp32 at::mm";
  r.gpu = gpu;
  r.copy_gbps = gpu ? 2900 : 9.5;
  for (const char* shape : {"576x576", "576x1536", "1536x576"})
    for (int bits : {3, 4})
      r.rows.push_back({shape, bits, 128, 1, "cuda-gemv", 10.0, 3.0, 2500, 0.86, 10.0 / 3.0, bits == 4 ? 3.76 : 4.92});
  return r;
}

}  // namespace

class TestKernelSpeedView : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void drawsOneRowAndBarPerTiming() {
    KernelSpeedView v;
    v.set_report(sample_report(true));
    QCOMPARE(v.table_rows(), 6);
    QCOMPARE(v.bars(), 6);
    QCOMPARE(v.plot()->plottableCount(), 3);  // W3 bars, W4 bars, the ideal markers
    QVERIFY(v.headline().contains("NVIDIA H100"));
    QVERIFY(!v.headline().contains("No GPU"));
  }

  void saysWhenTheFiguresAreOfTheCpuFallback() {
    KernelSpeedView v;
    v.set_report(sample_report(false));
    QVERIFY2(v.headline().startsWith("No GPU"), qPrintable(v.headline()));
    v.set_report({});
    QCOMPARE(v.table_rows(), 0);
    QCOMPARE(v.bars(), 0);
  }
};

QS_REGISTER_TEST(TestKernelSpeedView);
#include "test_kernel_speed_view.moc"
