#pragma once
// The workbench's own memory use, for the status bar: what a researcher
// watches when a 7B model and its calibration activations share the host.

#include <QString>
#include <QtGlobal>

namespace qs::app {

struct ProcessMemory {
  qint64 resident_bytes = -1;  // VmRSS; -1 when the platform does not say
  qint64 peak_bytes = -1;      // VmHWM
};

// From /proc/self/status on Linux; both -1 elsewhere.
ProcessMemory read_process_memory();

// "RAM 1.23 GiB (peak 2.01 GiB)", or "" when unknown.
QString memory_text(const ProcessMemory& m);

}  // namespace qs::app
