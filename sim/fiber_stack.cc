#include "sim/fiber_stack.h"

#include <map>
#include <vector>

#include <boost/context/protected_fixedsize_stack.hpp>

#include "sim/fiber_sanitizer.h"

namespace sim {

namespace ctx = boost::context;

namespace {

// Stacks given back, kept for the next fiber of the same size: a fresh
// protected stack costs an mmap, an mprotect, page faults on first touch and
// an munmap with a TLB flush — a third of a campaign's time went there. One
// pool per OS thread (the simulation runs on one), bounded; a stack's address
// never affects a run.
class StackPool {
 public:
  static constexpr size_t kMaxPooledStacks = 128;

  static StackPool& ForThisThread() {
    thread_local StackPool pool;
    return pool;
  }
  ~StackPool() {
    for (auto& [size_bytes, stacks] : free_) {
      ctx::protected_fixedsize_stack releaser(size_bytes);
      for (ctx::stack_context& stack : stacks) releaser.deallocate(stack);
    }
  }
  ctx::stack_context Take(size_t size_bytes) {
    auto& stacks = free_[size_bytes];
    if (stacks.empty()) return ctx::protected_fixedsize_stack(size_bytes).allocate();
    ctx::stack_context stack = stacks.back();
    stacks.pop_back();
    --pooled_;
    return stack;
  }
  void Give(size_t size_bytes, ctx::stack_context& stack) noexcept {
    if (pooled_ >= kMaxPooledStacks) {
      ctx::protected_fixedsize_stack(size_bytes).deallocate(stack);
      return;
    }
    free_[size_bytes].push_back(stack);
    ++pooled_;
  }

 private:
  std::map<size_t, std::vector<ctx::stack_context>> free_;
  size_t pooled_ = 0;
};

}  // namespace

ctx::stack_context RecordingStack::allocate() {
  ctx::stack_context stack = StackPool::ForThisThread().Take(size_bytes_);
  *bottom_ = static_cast<char*>(stack.sp) - stack.size;
  *size_ = stack.size;
  fiber_sanitizer::UnpoisonStack(*bottom_, *size_);
  return stack;
}

void RecordingStack::deallocate(ctx::stack_context& stack) noexcept {
  fiber_sanitizer::UnpoisonStack(static_cast<char*>(stack.sp) - stack.size, stack.size);
  StackPool::ForThisThread().Give(size_bytes_, stack);
}

}  // namespace sim
