#include "core/model/residency.h"

#include <fstream>
#include <sstream>
#include <string>

#if __has_include(<cuda_runtime_api.h>)
#include <cuda_runtime_api.h>
#define QS_CUDA_MEMORY_INFO 1
#endif

#include "core/model/decoder.h"

namespace qs::model {

int64_t available_memory_bytes(torch::Device device) {
  if (device.is_cuda()) {
#ifdef QS_CUDA_MEMORY_INFO
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) return static_cast<int64_t>(free_bytes);
#endif
    return -1;
  }
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    int64_t kib = 0;
    if (fields >> key >> kib && key == "MemAvailable:") return kib * 1024;
  }
  return -1;
}

int64_t default_resident_blocks(const ModelConfig& c, torch::ScalarType dtype, int64_t available) {
  if (available < 0) return 0;
  const int64_t all = block_weight_bytes(c, dtype) * c.num_layers;
  return all <= available / 8 ? 0 : 1;
}

}  // namespace qs::model
