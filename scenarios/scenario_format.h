// The scenario file format, version 2: line-oriented text, `#` starts a
// comment line, blank lines are ignored.
//
//   shardsim-scenario 2
//   expect recovery                      # the invariant the run breaks, or `pass`
//   trace-hash 00591091fe3ca971          # optional: the run's trace hash when written;
//                                        # replay reports "trace drift" if it differs
//   config seed=7 strategy=pct profile=strict-posix clients=2 ops_per_client=12
//          wait=0.5 crashes=1 power_loss=0.5 ids=12 distance=dot dim=3 wal_segment=4096
//          weights=update:50,retrieve:20    # optional: the workload mix; absent = default
//                                        # (properties/run_config.cc lists every key)
//   epoch                                # one engine process
//   crash power-loss after=1234          # at trace step (epoch start + 1234)
//   crash power-loss after=1234 pending=7 drop=2,5   # keeping exactly these of the
//                                        # 7 operations pending at the crash (or keep=0,1;
//                                        # `none` for an empty list); crash-every writes these
//   c0 update wait {"op":"upsert","points":[...]} clock=0:0:5:1
//   c1 retrieve 3
//   c0 scroll {"must":[...]}             # count, delete-by-filter likewise
//   c0 search k=2 [0.5,-1,2]
//   c0 snapshot wal                      # or nowal
//   c1 plunge                            # flush, freeze, optimize, vacuum, cancel-optimize
//   tape 00ff3a...                       # the world's decisions, hex, any number of lines
//   end steps=57 tape=1234               # required, last: StepCount() and tape bytes
//
// (`config` is one line in a file.) Vectors are written as decimal floats;
// every float the workload draws prints and parses back exactly.
// `Parse(Write(s))` gives `s` back and `Write` of that gives the same text.
//
// Version 1 had no end marker, so a file cut at a line boundary read as a
// whole (shorter) scenario and could replay as PASS; it is refused, but for
// `shardsim pin`, which replays such a file and rewrites it as version 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "properties/scenario.h"

namespace scenarios {

inline constexpr int kFormatVersion = 2;

// A scenario file: the scenario, and the trace hash it pins (the run's when
// the file was written), if it carries one. The hash is not part of
// properties::Scenario: a scenario derived from another (shrunk, crashed
// elsewhere) has a trace of its own.
struct ScenarioFile {
  properties::Scenario scenario;
  std::optional<uint64_t> trace_hash;
};

struct ScenarioParseOptions {
  // Read a version-1 file (no end marker, so a cut one cannot be told from
  // a whole one): only for `shardsim pin`, which upgrades such files.
  bool accept_version_1 = false;
};

// The scenario as text. `comment` lines (may be empty) are written first,
// each prefixed with "# "; then the trace-hash line when given.
std::string WriteScenario(const properties::Scenario& scenario, std::string_view comment = {},
                          std::optional<uint64_t> trace_hash = std::nullopt);

// One crash line as WriteScenario writes it ("crash power-loss after=12
// pending=7 drop=2,5"), for tools that print a crash.
std::string CrashLine(const properties::CrashPoint& crash);

// A clear error naming the line ("line 12: unknown action 'upsertt'") for
// any malformed input; never a crash.
// A file without its end marker is "truncated scenario: no end marker".
absl::StatusOr<ScenarioFile> ParseScenarioFile(std::string_view text, ScenarioParseOptions options = {});
// ParseScenarioFile without the trace hash.
absl::StatusOr<properties::Scenario> ParseScenario(std::string_view text);

// File helpers for the tools (real files; input_file.h's errors).
absl::StatusOr<ScenarioFile> ReadScenarioFile(const std::string& path, ScenarioParseOptions options = {});
absl::Status WriteScenarioFile(const std::string& path, const properties::Scenario& scenario,
                               std::string_view comment = {}, std::optional<uint64_t> trace_hash = std::nullopt);

}  // namespace scenarios
