// `shardsim crash-every FILE`: replays a (small) scenario once to find the
// file-system calls of its first engine process, then once per call with a
// crash exactly before that call lands: a process crash, and a power loss
// under each crash model of the scenario's profile (drop every unsynced
// byte, keep a random prefix, keep random blocks, tear the last block; the
// random ones draw from the tape). Each run then reloads, checks recovery
// against the model, and finishes the scenario's checks. Reports how many
// crash states were checked and which failed.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace shardsim {

struct CrashEveryOptions {
  std::string path;
  size_t max_calls = 2000;  // a bound on the file-system calls tried
  std::optional<std::string> failures_dir;  // write each failing variant here
  bool quiet = false;
};

void AddCrashEveryFlags(CLI::App& command, CrashEveryOptions& options);
// Exit 0 when every crash state recovered correctly, 1 when one did not,
// 2 on bad usage or an unreadable file.
int CrashEveryCommand(const CrashEveryOptions& options);

}  // namespace shardsim
