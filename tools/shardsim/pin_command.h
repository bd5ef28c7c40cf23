// `shardsim pin FILE...`: replays each scenario file (shard or cluster) and,
// when it ends as its `expect` line says, rewrites it in the current format
// with the replay's trace hash pinned (`trace-hash` line) and the end
// marker; the comment lines above the header are kept as they are.
//
// Two uses: upgrading version-1 files (no end marker; only pin reads them),
// and re-pinning after a change that alters runs' traces on purpose, once
// the new replays have been checked (`replay` reports "trace drift" until
// then). A file that does not reproduce its expectation is left untouched.
//
// Exit codes: 0 every file pinned, 1 one did not reproduce (named), 2 bad
// usage or a file that cannot be read, parsed or written.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace shardsim {

struct PinOptions {
  std::vector<std::string> paths;
};
void AddPinFlags(CLI::App& command, PinOptions& options);
int PinCommand(const PinOptions& options);

// The file's comment block: the comment and blank lines above its first
// other line, as written, minus `# trace-hash: <hex>` lines (a copy older
// writers put in the comment; the pinned line replaces it). Sets `error`
// when a comment line comes later, where a rewrite would drop it.
std::string LeadingComment(const std::string& text, std::string& error);

}  // namespace shardsim
