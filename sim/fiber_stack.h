// The stacks of the scheduler's fibers: protected stacks (a guard page
// catches an overflow) taken from and given back to a per-thread pool, with
// their bounds recorded for the sanitizer's fiber-switch annotations.
// Internal to sim/scheduler*.cc.
#pragma once

#include <cstddef>

#include <boost/context/stack_context.hpp>

namespace sim {

// A Boost.Context stack allocator. REQUIRES: `bottom` and `size` outlive the
// fiber; they receive the stack's bounds when the fiber is created.
class RecordingStack {
 public:
  RecordingStack(size_t size_bytes, const void** bottom, size_t* size)
      : size_bytes_(size_bytes), bottom_(bottom), size_(size) {}
  boost::context::stack_context allocate();
  void deallocate(boost::context::stack_context& stack) noexcept;

 private:
  size_t size_bytes_;
  const void** bottom_;
  size_t* size_;
};

}  // namespace sim
