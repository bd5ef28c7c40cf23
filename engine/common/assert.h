// Always-on invariant checks. They abort with a message in every build type,
// release included: a broken invariant in a storage engine must never be
// silently carried forward (TigerBeetle style).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include <fmt/core.h>

namespace shardsim {

[[noreturn]] inline void AssertFailed(const char* file, int line, const char* condition,
                                      const std::string& message) {
  std::fprintf(stderr, "%s:%d: assertion failed: %s%s%s\n", file, line, condition,
               message.empty() ? "" : ": ", message.c_str());
  std::fflush(stderr);
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
