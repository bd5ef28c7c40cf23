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
};

void AddRealFlags(CLI::App& command, RealOptions& options);
// Exit 0 when every seed passed, 1 when one failed, 2 on a usage error.
int RealCommand(const RealOptions& options);

}  // namespace shardsim
