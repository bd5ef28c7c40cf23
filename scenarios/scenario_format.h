// The scenario file format, version 1: line-oriented text, `#` starts a
// comment line, blank lines are ignored.
//
//   shardsim-scenario 1
//   expect recovery                      # the invariant the run breaks, or `pass`
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
//
// (`config` is one line in a file.) Vectors are written as decimal floats;
// every float the workload draws prints and parses back exactly.
// `Parse(Write(s))` gives `s` back and `Write` of that gives the same text.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "properties/scenario.h"

namespace scenarios {

inline constexpr int kFormatVersion = 1;

// The scenario as text. `comment` lines (may be empty) are written first,
// each prefixed with "# ".
std::string WriteScenario(const properties::Scenario& scenario, std::string_view comment = {});

// One crash line as WriteScenario writes it ("crash power-loss after=12
// pending=7 drop=2,5"), for tools that print a crash.
std::string CrashLine(const properties::CrashPoint& crash);

// A clear error naming the line ("line 12: unknown action 'upsertt'") for
// any malformed input; never a crash.
absl::StatusOr<properties::Scenario> ParseScenario(std::string_view text);

// File helpers for the tools (real files).
absl::StatusOr<properties::Scenario> ReadScenarioFile(const std::string& path);
absl::Status WriteScenarioFile(const std::string& path, const properties::Scenario& scenario,
                               std::string_view comment = {});

}  // namespace scenarios
