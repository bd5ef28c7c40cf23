// Always-on invariant checks. They abort with a message in every build type,
// release included: a broken invariant in a storage engine must never be
// silently carried forward (TigerBeetle style).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/core.h>

namespace shardsim {

// A process's last words before a failed assertion aborts it: a forked child
// that records or replays a run (tools/shardsim/child_runs.h) hands back what
// it has, so a run that ends in an assertion can still be written and shrunk.
// Gets "file.cc:LINE: assertion failed: condition: message" (the file's base
// name). Called at most once, on the asserting thread or fiber.
using AssertionHook = std::function<void(std::string_view what)>;

// REQUIRES: the process runs one thread (a forked child); the slot is not
// synchronised.
inline AssertionHook& AssertionHookSlot() {
  static AssertionHook hook;
  return hook;
}

// Installs a hook for a scope; the previous one comes back after it.
class ScopedAssertionHook {
 public:
  explicit ScopedAssertionHook(AssertionHook hook) : previous_(std::exchange(AssertionHookSlot(), std::move(hook))) {}
  ~ScopedAssertionHook() { AssertionHookSlot() = std::move(previous_); }
  ScopedAssertionHook(const ScopedAssertionHook&) = delete;
  ScopedAssertionHook& operator=(const ScopedAssertionHook&) = delete;

 private:
  AssertionHook previous_;
};

[[noreturn]] inline void AssertFailed(const char* file, int line, const char* condition,
                                      const std::string& message) {
  std::fprintf(stderr, "%s:%d: assertion failed: %s%s%s\n", file, line, condition,
               message.empty() ? "" : ": ", message.c_str());
  std::fflush(stderr);
  // Taken out first: an assertion inside the hook must not call it again.
  if (AssertionHook hook = std::exchange(AssertionHookSlot(), nullptr)) {
    const std::string_view path(file);
    const size_t slash = path.rfind('/');
    const std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
    hook(std::string(base) + ":" + std::to_string(line) + ": assertion failed: " + condition +
         (message.empty() ? "" : ": ") + message);
  }
  std::abort();
}

}  // namespace shardsim

// SS_ASSERT(cond) or SS_ASSERT(cond, "format {}", args...)
#define SS_ASSERT(condition, ...)                                                        \
  do {                                                                                   \
    if (!(condition)) [[unlikely]] {                                                     \
      ::shardsim::AssertFailed(__FILE__, __LINE__, #condition,                           \
                               ::shardsim::detail::AssertMessage(__VA_ARGS__));          \
    }                                                                                    \
  } while (false)

namespace shardsim::detail {
inline std::string AssertMessage() { return {}; }
template <typename... Args>
std::string AssertMessage(fmt::format_string<Args...> format, Args&&... args) {
  return fmt::format(format, std::forward<Args>(args)...);
}
}  // namespace shardsim::detail
