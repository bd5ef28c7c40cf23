// Internal to scenarios/: the lexical pieces both scenario parsers share
// (numbers, the hex tape, the trace-hash and end lines) and the bounds that
// keep a hostile file from asking for unbounded work.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace scenarios {

inline constexpr size_t kMaxLines = 1'000'000;
inline constexpr size_t kMaxTapeBytes = 16u << 20;

// A whole decimal number; nullopt for anything else (empty, sign, suffix).
std::optional<uint64_t> ParseUnsigned(std::string_view text);

// Appends one tape line's bytes (two hex digits each) to `tape`.
// InvalidArgument for an odd length, a bad digit, or a tape past
// kMaxTapeBytes; `tape` may then hold part of the line.
absl::Status AppendTape(std::string_view hex, std::vector<uint8_t>& tape);

// The lines both formats carry since version 2:
//   trace-hash 00591091fe3ca971     (optional, after `expect`) the trace hash
//                                   the run had when the file was written
//   end steps=57 tape=1234          the last line; a file without it was cut
// The end line counts what the file holds (StepCount() and tape bytes), so
// lines lost from its middle show too.
struct EndMarker {
  uint64_t steps = 0;
  uint64_t tape_bytes = 0;
};
std::string TraceHashLine(uint64_t hash);
std::string EndLine(size_t steps, size_t tape_bytes);
// The argument of a trace-hash line: exactly 16 lowercase hex digits.
absl::StatusOr<uint64_t> ParseTraceHash(std::string_view text);
// The arguments of an end line: "steps=<n> tape=<n>".
absl::StatusOr<EndMarker> ParseEndMarker(std::string_view text);
// After the last line: `end` (from the end line, if there was one) must be
// there and match what was read. `what` names the kind ("scenario",
// "cluster scenario") in the error.
absl::Status CheckEndMarker(std::string_view what, const std::optional<EndMarker>& end, size_t steps,
                            size_t tape_bytes);

}  // namespace scenarios
