// `shardsim real`: seeds' workloads on the real world (PosixEnv: threads,
// files, real time), checked by the same model (properties/real/).
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace shardsim {

struct RealOptions {
  std::optional<uint64_t> seed;
  std::optional<std::string> seeds;  // "A..B"
  std::optional<std::string> dir;    // default: a fresh directory under $TMPDIR or /tmp
  bool keep = false;                 // leave every seed's directory (failing ones are always kept)
  bool verbose = false;
  bool quiet = false;
  std::optional<std::string> json_path;
  bool crash = false;                  // kill -9 mode
  std::optional<uint64_t> timing_seed;  // the kill plans' draws (default: the seed)
  std::optional<std::string> budget;    // run seeds from the first until this time is up
};

void AddRealFlags(CLI::App& command, RealOptions& options);
// Exit 0 when every seed passed, 1 when one failed, 2 on a usage error.
int RealCommand(const RealOptions& options);

// `shardsim real-child`: the engine process of a kill -9 run (started by
// `real --crash`, not by hand). Reports on file descriptor 3.
struct RealChildOptions {
  uint64_t seed = 0;
  std::string dir;
  size_t epoch = 0;
  std::optional<std::string> restore;
  std::optional<uint32_t> kill_in_wal_write;
  uint32_t kill_delay_ns = 0;
};
void AddRealChildFlags(CLI::App& command, RealChildOptions& options);
int RealChildCommand(const RealChildOptions& options);

}  // namespace shardsim
