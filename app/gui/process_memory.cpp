#include "app/gui/process_memory.h"

#include <QFile>

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

QString memory_text(const ProcessMemory& m) {
  if (m.resident_bytes < 0) return {};
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  QString text = QString("RAM %1 GiB").arg(static_cast<double>(m.resident_bytes) / kGiB, 0, 'f', 2);
  if (m.peak_bytes >= 0) text += QString(" (peak %1 GiB)").arg(static_cast<double>(m.peak_bytes) / kGiB, 0, 'f', 2);
  return text;
}

}  // namespace qs::app
