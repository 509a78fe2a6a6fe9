#pragma once
// The workbench's own memory use, for the status bar: what a researcher
// watches when a 7B model and its calibration activations share the host and
// the GPU.

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

struct GpuMemory {
  qint64 torch_reserved_bytes = -1;  // held by torch's caching allocator for this process
  qint64 used_bytes = -1;            // on the device, all processes (as nvidia-smi shows)
  qint64 total_bytes = -1;
};

// Device 0 when torch sees a CUDA device; all -1 otherwise.
GpuMemory read_gpu_memory();

// "GPU 12.3 / 79.6 GiB (torch 10.1)", or "" without a device.
QString gpu_memory_text(const GpuMemory& m);

}  // namespace qs::app
