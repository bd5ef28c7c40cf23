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
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace engine {

// The child's exit codes, beside 0 (the body's bytes were all written back).
inline constexpr int kChildBodyGaveNothing = 5;  // the body returned nullopt
inline constexpr int kChildWriteFailed = 4;      // its bytes did not all reach the parent

// What a child wrote to its pipe, and how it ended (a waitpid status).
struct ChildOutput {
  std::string bytes;
  int wait_status = 0;
  bool exited_zero() const { return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0; }
};

// Runs `body` in a child with the write end of a pipe; the child exits with
// the code `body` returns. What it wrote before it died still reaches the
// parent (an assertion hook's last words). An error only when the pipe or
// fork failed.
inline absl::StatusOr<ChildOutput> RunInChildWithPipe(const std::function<int(int write_fd)>& body) {
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError("RunInChild: pipe failed");
  std::fflush(nullptr);  // (a child must not flush the parent's buffered output again)
  const pid_t child = fork();
  if (child < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError("RunInChild: fork failed");
  }
  if (child == 0) {
    close(fds[0]);
    _exit(body(fds[1]));
  }
  close(fds[1]);
  ChildOutput output;
  char chunk[4096];
  for (ssize_t got; (got = read(fds[0], chunk, sizeof chunk)) > 0;) output.bytes.append(chunk, static_cast<size_t>(got));
  close(fds[0]);
  waitpid(child, &output.wait_status, 0);
  return output;
}

// Writes all of `bytes` to `fd`; false when it could not.
inline bool WriteAllToFd(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t wrote = write(fd, bytes.data(), bytes.size());
    if (wrote <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(wrote));
  }
  return true;
}

// `body`'s bytes, or an error when the pipe or fork failed or the child did
// not exit 0 (it died, or the body returned nullopt: kChildBodyGaveNothing).
inline absl::StatusOr<std::string> RunInChild(const std::function<std::optional<std::string>()>& body) {
  absl::StatusOr<ChildOutput> output = RunInChildWithPipe([&](int write_fd) {
    const std::optional<std::string> bytes = body();
    if (!bytes) return kChildBodyGaveNothing;
    return WriteAllToFd(write_fd, *bytes) ? 0 : kChildWriteFailed;
  });
  if (!output.ok()) return output.status();
  if (!output->exited_zero()) {
    return absl::AbortedError("RunInChild: the child ended with status " + std::to_string(output->wait_status));
  }
  return std::move(output->bytes);
}

}  // namespace engine
