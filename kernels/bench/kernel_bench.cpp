#include "kernels/bench/kernel_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>
#include <stdexcept>

#include "kernels/lut_matmul.h"
#include "kernels/packed_matmul.h"
#include "kernels/packed_weight.h"

#ifdef QS_KERNELS_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#endif

namespace qs::kernels {
namespace {

// Times `launch(i)` (i counts launches, for rotating buffers) and returns the
// median seconds per launch over the repeats.
class Timer {
 public:
  explicit Timer(const KernelBenchOptions& o) : o_(o) {}

  template <class F>
  double median_seconds(F&& launch) {
    int64_t i = 0;
    for (int w = 0; w < o_.warmup; ++w)
      for (int l = 0; l < o_.launches_per_repeat; ++l) launch(i++);
    std::vector<double> per_launch;
    for (int r = 0; r < o_.repeats; ++r) {
      const double s = time_once([&] {
        for (int l = 0; l < o_.launches_per_repeat; ++l) launch(i++);
      });
      per_launch.push_back(s / o_.launches_per_repeat);
    }
    std::nth_element(per_launch.begin(), per_launch.begin() + per_launch.size() / 2, per_launch.end());
    return per_launch[per_launch.size() / 2];
  }

 private:
  template <class F>
  double time_once(F&& body) {
#ifdef QS_KERNELS_CUDA
    if (o_.device.is_cuda()) {
      at::cuda::CUDAEvent start(cudaEventDefault), stop(cudaEventDefault);
      const auto stream = at::cuda::getCurrentCUDAStream();
      start.record(stream);
      body();
      stop.record(stream);
      stop.synchronize();
      return start.elapsed_time(stop) / 1e3;
    }
#endif
    const auto t0 = std::chrono::steady_clock::now();
    body();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  const KernelBenchOptions& o_;
};

// Copies of a buffer of `bytes` needed so that consecutive launches never hit
// in the last-level cache: four times its size in total, 1..64 copies.
int64_t rotating_copies(int64_t bytes, at::Device device) {
  int64_t cache = int64_t{32} << 20;
#ifdef QS_KERNELS_CUDA
  if (device.is_cuda()) cache = at::cuda::getDeviceProperties(device.index())->l2CacheSize;
#endif
  return std::clamp<int64_t>((4 * cache + bytes - 1) / std::max<int64_t>(bytes, 1), 1, 64);
}

std::string device_name(at::Device device) {
#ifdef QS_KERNELS_CUDA
  if (device.is_cuda()) return at::cuda::getDeviceProperties(device.index())->name;
#endif
  return device.str();
}

PackedWeight random_packed(const KernelShape& s, int bits, int64_t group, at::Device device) {
  const int64_t g = group > 0 ? group : s.in;
  const int64_t groups = (s.in + g - 1) / g;
  auto codes = at::randint(0, int64_t{1} << bits, {s.out, s.in}, at::kByte);
  auto scales = at::rand({s.out, groups}) * 0.01f + 0.001f;
  auto zeros = at::randint(0, int64_t{1} << bits, {s.out, groups}, at::kInt);
  return pack_weight(codes, scales, zeros, bits, g).to(device);
}

double copy_bandwidth(const KernelBenchOptions& o) {
  const int64_t bytes = int64_t{o.device.is_cuda() ? 256 : 64} << 20;
  auto src = at::rand({bytes / 4}, at::TensorOptions().device(o.device));
  auto dst = at::empty_like(src);
  Timer t(o);
  const double s = t.median_seconds([&](int64_t) { dst.copy_(src); });
  return 2.0 * static_cast<double>(bytes) / s / 1e9;
}

}  // namespace

KernelBenchResult run_kernel_bench(const std::vector<KernelShape>& shapes, const KernelBenchOptions& o,
                                   const std::function<void(const std::string&)>& progress) {
  KernelBenchResult result;
  result.device = device_name(o.device);
  const bool cuda = o.device.is_cuda();
  const auto dense = cuda ? at::kHalf : at::kFloat;
  result.baseline = cuda ? "FP16 cuBLAS (at::mm)" : "fp32 at::mm";
  result.copy_gbps = copy_bandwidth(o);
  Timer timer(o);
  const auto opts = at::TensorOptions().device(o.device);
  for (const auto& shape : shapes) {
    const int64_t dense_bytes = shape.in * shape.out * (cuda ? 2 : 4);
    std::vector<at::Tensor> dense_w;
    for (int64_t c = 0; c < rotating_copies(dense_bytes, o.device); ++c)
      dense_w.push_back(at::randn({shape.out, shape.in}, opts.dtype(dense)) * 0.02);
    for (int bits : o.bits) {
      if (auto why = unsupported_reason(bits, shape.in, o.group_size > 0 ? o.group_size : shape.in); !why.empty())
        throw std::invalid_argument("bench-kernels: shape " + std::to_string(shape.in) + "x" +
                                    std::to_string(shape.out) + ": " + why);
      std::vector<PackedWeight> packed;
      packed.push_back(random_packed(shape, bits, o.group_size, o.device));
      for (int64_t c = 1; c < rotating_copies(packed[0].weight_bytes(), o.device); ++c)
        packed.push_back(random_packed(shape, bits, o.group_size, o.device));
      for (int64_t batch : o.batches) {
        if (progress)
          progress(std::to_string(shape.in) + "x" + std::to_string(shape.out) + " W" + std::to_string(bits) +
                   " batch " + std::to_string(batch));
        auto x = at::randn({batch, shape.in}, opts.dtype(dense));
        auto y = at::empty({batch, shape.out}, opts.dtype(dense));
        const double base_s = timer.median_seconds([&](int64_t i) {
          at::mm_out(y, x, dense_w[static_cast<size_t>(i) % dense_w.size()].t());
        });
        const double ours_s = timer.median_seconds([&](int64_t i) {
          packed_matmul_out(x, packed[static_cast<size_t>(i) % packed.size()], {}, y);
        });
        auto add_row = [&](double seconds, int64_t weight_bytes, const std::string& kernel, bool lut) {
          KernelBenchRow row;
          row.shape = shape;
          row.bits = bits;
          row.group_size = packed[0].group_size;
          row.batch = batch;
          row.kernel = kernel;
          row.lut = lut;
          row.baseline_us = base_s * 1e6;
          row.packed_us = seconds * 1e6;
          const double bytes = static_cast<double>(weight_bytes + (x.numel() + y.numel()) * x.element_size());
          row.packed_gbps = bytes / seconds / 1e9;
          row.copy_fraction = row.packed_gbps / result.copy_gbps;
          row.speedup = base_s / seconds;
          row.ideal_speedup = static_cast<double>(dense_bytes) / static_cast<double>(weight_bytes);
          result.rows.push_back(row);
        };
        add_row(ours_s, packed[0].weight_bytes(), packed_kernel_name(batch, o.device), false);
        if (o.lut && batch == 1 && lut_unsupported_reason(bits).empty()) {
          std::vector<LutWeight> lut;
          for (const auto& p : packed) lut.push_back(to_lut_weight(p.to(at::kCPU)).to(o.device));
          auto y32 = at::empty({batch, shape.out}, opts.dtype(at::kFloat));
          const double lut_s = timer.median_seconds([&](int64_t i) {
            lut_matmul_out(x, lut[static_cast<size_t>(i) % lut.size()], {}, y32);
          });
          add_row(lut_s, lut[0].weight_bytes(), cuda ? "cuda-lut" : "cpu-lut", true);
        }
      }
    }
  }
  return result;
}

double geomean_speedup(const KernelBenchResult& r, int bits, int64_t batch, bool lut) {
  double log_sum = 0;
  int n = 0;
  for (const auto& row : r.rows)
    if (row.bits == bits && row.batch == batch && row.lut == lut) log_sum += std::log(row.speedup), ++n;
  return n ? std::exp(log_sum / n) : 0.0;
}

std::string format_kernel_table(const KernelBenchResult& r) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "device %s; baseline %s; copy bandwidth %.1f GB/s\n", r.device.c_str(),
                r.baseline.c_str(), r.copy_gbps);
  out += line;
  std::snprintf(line, sizeof line, "%-13s %4s %5s %5s %-15s %12s %10s %9s %7s %8s %7s\n", "shape (k x n)", "bits",
                "group", "batch", "kernel", "baseline us", "packed us", "GB/s", "copy%", "speedup", "ideal");
  out += line;
  std::map<std::tuple<bool, int, int64_t>, bool> configs;
  for (const auto& row : r.rows) {
    const std::string shape = std::to_string(row.shape.in) + "x" + std::to_string(row.shape.out);
    std::snprintf(line, sizeof line, "%-13s %4d %5lld %5lld %-15s %12.2f %10.2f %9.1f %6.1f%% %7.2fx %6.2fx\n",
                  shape.c_str(), row.bits, static_cast<long long>(row.group_size), static_cast<long long>(row.batch),
                  row.kernel.c_str(), row.baseline_us, row.packed_us, row.packed_gbps, 100 * row.copy_fraction,
                  row.speedup, row.ideal_speedup);
    out += line;
    configs[{row.lut, row.bits, row.batch}] = true;
  }
  for (const auto& [config, unused] : configs) {
    const auto [lut, bits, batch] = config;
    std::snprintf(line, sizeof line, "geometric-mean speed-up W%d batch %lld%s: %.2fx\n", bits,
                  static_cast<long long>(batch), lut ? " (LUT kernel)" : "", geomean_speedup(r, bits, batch, lut));
    out += line;
  }
  return out;
}

}  // namespace qs::kernels
