#include "app/cli/device_option.h"

#include "core/error.h"

namespace qs::cli {

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw ArgumentError("--device " + name + ": no CUDA device is available on this machine");
    return torch::Device(name);
  }
  throw ArgumentError("--device: '" + name + "' is not cpu or cuda[:N]");
}

torch::ScalarType parse_dtype(const std::string& name, torch::Device device) {
  if (name == "auto") return device.is_cuda() ? torch::kFloat16 : torch::kFloat32;
  if (name == "fp32" || name == "float32") return torch::kFloat32;
  if (name == "fp16" || name == "float16") return torch::kFloat16;
  if (name == "bf16" || name == "bfloat16") return torch::kBFloat16;
  throw ArgumentError("--dtype: '" + name + "' is not auto, fp32, fp16 or bf16");
}

std::string dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "float32";
    case torch::kFloat16: return "float16";
    case torch::kBFloat16: return "bfloat16";
    default: return c10::toString(t);
  }
}

}  // namespace qs::cli
