#pragma once
// How the process allocates large buffers. glibc raises its mmap threshold
// to the size of each large block freed (up to 32 MiB), after which tensors
// of that size come from the heap, whose freed pieces stay resident: an MoE
// block's hundreds of expert-sized weights, Hessians and copies then pile up
// to several times the block (a Qwen3-30B-A3B-shaped GPTQ run peaked at
// 18.8 GiB instead of 5.4). A fixed threshold keeps every buffer of 1 MiB or
// more mapped on its own, returned to the system when it is freed.

namespace qs {

// Call once at start-up, before large allocations. A no-op off glibc.
void use_mapped_large_allocations();

}  // namespace qs
