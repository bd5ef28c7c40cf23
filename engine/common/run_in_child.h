// Runs a piece of work in a forked child and brings back the bytes it
// returned: for work that may abort the process (a campaign's shrink, an
// engine assertion) or must run with other credentials (permission tests).
//
// REQUIRES: no other thread is running (fork).
#pragma once

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace engine {

// The child's exit codes, beside 0 (the body's bytes were all written back).
inline constexpr int kChildBodyGaveNothing = 5;  // the body returned nullopt
inline constexpr int kChildWriteFailed = 4;      // its bytes did not all reach the parent

// `body`'s bytes, or an error when the pipe or fork failed or the child did
// not exit 0 (it died, or the body returned nullopt: kChildBodyGaveNothing).
inline absl::StatusOr<std::string> RunInChild(const std::function<std::optional<std::string>()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError("RunInChild: pipe failed");
  std::fflush(nullptr);  // (a child must not flush the parent's buffered output again)
  const pid_t child = fork();
  if (child < 0) return absl::InternalError("RunInChild: fork failed");
  if (child == 0) {
    close(fds[0]);
    const std::optional<std::string> bytes = body();
    if (!bytes) _exit(kChildBodyGaveNothing);
    const bool written = write(fds[1], bytes->data(), bytes->size()) == static_cast<ssize_t>(bytes->size());
    _exit(written ? 0 : kChildWriteFailed);
  }
  close(fds[1]);
  std::string bytes;
  char chunk[4096];
  for (ssize_t got; (got = read(fds[0], chunk, sizeof chunk)) > 0;) bytes.append(chunk, static_cast<size_t>(got));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::AbortedError("RunInChild: the child ended with status " + std::to_string(status));
  }
  return bytes;
}

}  // namespace engine
