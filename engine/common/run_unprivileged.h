// For tests of permission errors: file modes do not stop root, and CI runs
// as root, so a test that needs "permission denied" runs its body in a
// child that has dropped to the unprivileged user `nobody` (65534) first.
// Not as root, the body runs in this process. The body's result comes back
// as a string (a child cannot report GoogleTest failures itself).
//
// REQUIRES: the paths the body touches are reachable by `nobody` (give the
// test's directory mode 0755 or 0555); no other thread is running (fork).
#pragma once

#include <grp.h>
#include <unistd.h>

#include <functional>
#include <optional>
#include <string>

#include "engine/common/run_in_child.h"

namespace engine {

inline std::string RunUnprivileged(const std::function<std::string()>& body) {
  if (geteuid() != 0) return body();
  const absl::StatusOr<std::string> result = RunInChild([&]() -> std::optional<std::string> {
    constexpr uid_t kNobody = 65534;
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) _exit(3);
    return body();
  });
  if (!result.ok()) {
    return "RunUnprivileged: the child could not drop to nobody or report (" + std::string(result.status().message()) +
           ")";
  }
  return *result;
}

}  // namespace engine
