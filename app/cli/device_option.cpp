#include "app/cli/device_option.h"

#include "core/error.h"
#include "core/model/residency.h"
#include "core/number_format.h"

namespace qs::cli {

torch::Device parse_device(const std::string& name, bool require_available) {
  if (name == "cpu") return torch::kCPU;
  if (name.rfind("cuda", 0) == 0) {
    if (require_available && !torch::cuda::is_available())
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

void apply_resident_blocks(const Args& args, model::Decoder& decoder, Feedback& feedback) {
  if (args.has("resident-blocks"))
    decoder.set_resident_blocks(args.get_int("resident-blocks", 0, 0, decoder.num_layers()));
  const double gib = 1024.0 * 1024.0 * 1024.0;
  const double block = static_cast<double>(model::block_weight_bytes(decoder.config(), decoder.dtype())) / gib;
  const int64_t resident = decoder.resident_blocks();
  const int64_t available = model::available_memory_bytes(decoder.device());
  feedback.log((resident == 0 ? std::string("every block stays resident")
                              : std::to_string(resident) + " of " + std::to_string(decoder.num_layers()) +
                                    " blocks resident at a time") +
               " (" + format_number("%.2f", block) + " GiB of weights a block in " + dtype_name(decoder.dtype()) +
               ", " + std::to_string(decoder.num_layers()) + " blocks" +
               (available >= 0 ? ", " + format_number("%.1f", static_cast<double>(available) / gib) + " GiB available"
                               : std::string()) +
               ")");
}

void require_memory(const pipeline::MemoryPlan& plan, torch::Device device, Feedback& feedback,
                    const std::string& remedy) {
  const int64_t device_free = model::available_memory_bytes(device);
  const int64_t host_free = model::available_memory_bytes(torch::kCPU);
  const auto text = pipeline::describe(plan, device, device_free, host_free);
  feedback.log("memory plan:\n" + text);
  if (!pipeline::fits(plan, device, device_free, host_free))
    throw ArgumentError("this run needs more memory than the machine has:\n" + text + remedy);
}

}  // namespace qs::cli
