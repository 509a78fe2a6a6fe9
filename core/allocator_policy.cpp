#include "core/allocator_policy.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace qs {

void use_mapped_large_allocations() {
#if defined(__GLIBC__)
  // Setting the threshold also turns glibc's dynamic adjustment of it off.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

}  // namespace qs
