// Tells AddressSanitizer about fiber stack switches, so it does not mistake a
// switch for a stack overflow or report false positives. No-ops otherwise.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define SHARDSIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHARDSIM_ASAN 1
#endif
#endif

#if defined(SHARDSIM_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace sim::fiber_sanitizer {

// Call right before switching to the stack [bottom, bottom + size).
// `fake_stack_save` == nullptr means the current fiber is finishing.
inline void StartSwitch(void** fake_stack_save, const void* bottom, size_t size) {
#if defined(SHARDSIM_ASAN)
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}

// Call right after arriving on a stack; reports the stack we came from.
inline void FinishSwitch(void* fake_stack_save, const void** from_bottom, size_t* from_size) {
#if defined(SHARDSIM_ASAN)
  __sanitizer_finish_switch_fiber(fake_stack_save, from_bottom, from_size);
#else
  (void)fake_stack_save, (void)from_bottom, (void)from_size;
#endif
}

// Clears the shadow of a fiber stack that is being handed out or given back.
// A finished fiber never returns from its entry frame (it jumps away), so the
// redzones of that frame stay poisoned; and munmap does not clear shadow in
// every ASan runtime. A new stack mapped at the same address would inherit
// that stale poison and report a use-after-scope in a frame that is fine.
inline void UnpoisonStack(const void* bottom, size_t size) {
#if defined(SHARDSIM_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(bottom, size);
#else
  (void)bottom, (void)size;
#endif
}

}  // namespace sim::fiber_sanitizer
