// Runs a piece of work in a forked child, so that a run that aborts (an
// engine assertion, a crash) cannot take the campaign down.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace shardsim {

// Runs `work` in a child and returns the JSON line it returned, or nullopt
// when it returned nullopt, wrote no JSON or the child died.
template <typename Work>
std::optional<nlohmann::json> InChild(Work work) {
  int fds[2];
  if (pipe(fds) != 0) return std::nullopt;
  std::fflush(nullptr);  // (a child must not flush the parent's buffered output again)
  const pid_t pid = fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    close(fds[0]);
    const std::optional<std::string> line = work();
    if (!line) _exit(5);
    const ssize_t ignored = write(fds[1], line->data(), line->size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char chunk[4096];
  for (ssize_t got; (got = read(fds[0], chunk, sizeof chunk)) > 0;) text.append(chunk, static_cast<size_t>(got));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  nlohmann::json facts = nlohmann::json::parse(text, nullptr, false);
  if (facts.is_discarded()) return std::nullopt;
  return facts;
}

}  // namespace shardsim
