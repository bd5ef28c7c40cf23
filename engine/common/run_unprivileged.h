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
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace engine {

inline std::string RunUnprivileged(const std::function<std::string()>& body) {
  if (geteuid() != 0) return body();
  int fds[2];
  if (pipe(fds) != 0) return "RunUnprivileged: pipe failed";
  const pid_t child = fork();
  if (child < 0) return "RunUnprivileged: fork failed";
  if (child == 0) {
    close(fds[0]);
    constexpr uid_t kNobody = 65534;
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) _exit(3);
    const std::string result = body();
    const bool written = write(fds[1], result.data(), result.size()) == static_cast<ssize_t>(result.size());
    _exit(written ? 0 : 4);
  }
  close(fds[1]);
  std::string result;
  char chunk[4096];
  for (ssize_t got; (got = read(fds[0], chunk, sizeof chunk)) > 0;) result.append(chunk, static_cast<size_t>(got));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "RunUnprivileged: the child could not drop to nobody or report (status " + std::to_string(status) + ")";
  }
  return result;
}

}  // namespace engine
