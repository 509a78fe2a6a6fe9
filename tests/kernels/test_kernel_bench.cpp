// The timing harness produces a row per shape, bit width and batch with
// positive, self-consistent figures (tiny sizes; the timings themselves are
// not asserted, they are what the harness is for).

#include <cmath>

#include "kernels/bench/kernel_bench.h"
#include "tests/kernels/check.h"

using namespace qs;

QS_KERNEL_CASE(bench_rows_are_consistent) {
  kernels::KernelBenchOptions o;
  o.bits = {3, 4};
  o.group_size = 64;
  o.batches = {1, 12};
  o.warmup = 1;
  o.repeats = 3;
  o.launches_per_repeat = 2;
  const auto r = kernels::run_kernel_bench({{128, 96}, {256, 64}}, o);
  QS_CHECK(r.rows.size() == 8, "2 shapes x 2 bit widths x 2 batches");
  QS_CHECK(r.copy_gbps > 0, "copy bandwidth measured");
  for (const auto& row : r.rows) {
    QS_CHECK(row.baseline_us > 0 && row.packed_us > 0, "times are positive");
    QS_CHECK(std::abs(row.speedup - row.baseline_us / row.packed_us) < 1e-9, "speed-up is the ratio of times");
    QS_CHECK(row.kernel == (row.batch <= 8 ? "cpu-fused" : "cpu-dequantize"), "kernel named: " + row.kernel);
  }
  const double g = kernels::geomean_speedup(r, 4, 1);
  QS_CHECK(g > 0, "geometric mean");
  const auto table = kernels::format_kernel_table(r);
  QS_CHECK(table.find("geometric-mean speed-up W3 batch 12") != std::string::npos, "table summary line");
}
