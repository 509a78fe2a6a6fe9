#include "app/gui/process_memory.h"

#include <torch/cuda.h>

#include <QFile>

#if __has_include(<c10/cuda/CUDACachingAllocator.h>) && __has_include(<cuda_runtime_api.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#define QS_GPU_MEMORY 1
#endif

namespace qs::app {

ProcessMemory read_process_memory() {
  ProcessMemory m;
  QFile f("/proc/self/status");
  if (!f.open(QIODevice::ReadOnly)) return m;
  for (const QByteArray& line : f.readAll().split('\n')) {
    // "VmRSS:     123456 kB"
    const auto parts = line.simplified().split(' ');
    if (parts.size() < 2) continue;
    const qint64 kib = parts[1].toLongLong();
    if (parts[0] == "VmRSS:") m.resident_bytes = kib * 1024;
    if (parts[0] == "VmHWM:") m.peak_bytes = kib * 1024;
  }
  return m;
}

GpuMemory read_gpu_memory() {
  GpuMemory m;
#ifdef QS_GPU_MEMORY
  if (!torch::cuda::is_available()) return m;
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
    m.total_bytes = static_cast<qint64>(total_bytes);
    m.used_bytes = static_cast<qint64>(total_bytes - free_bytes);
  }
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
  m.torch_reserved_bytes = stats.reserved_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].current;
#endif
  return m;
}

QString gpu_memory_text(const GpuMemory& m) {
  if (m.total_bytes <= 0) return {};
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  QString text = QString("GPU %1 / %2 GiB")
                     .arg(static_cast<double>(m.used_bytes) / kGiB, 0, 'f', 1)
                     .arg(static_cast<double>(m.total_bytes) / kGiB, 0, 'f', 1);
  if (m.torch_reserved_bytes >= 0)
    text += QString(" (torch %1)").arg(static_cast<double>(m.torch_reserved_bytes) / kGiB, 0, 'f', 1);
  return text;
}

QString memory_text(const ProcessMemory& m) {
  if (m.resident_bytes < 0) return {};
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  QString text = QString("RAM %1 GiB").arg(static_cast<double>(m.resident_bytes) / kGiB, 0, 'f', 2);
  if (m.peak_bytes >= 0) text += QString(" (peak %1 GiB)").arg(static_cast<double>(m.peak_bytes) / kGiB, 0, 'f', 2);
  return text;
}

}  // namespace qs::app
