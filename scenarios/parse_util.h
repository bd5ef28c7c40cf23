// Internal to scenarios/: the lexical pieces both scenario parsers share
// (numbers, the hex tape) and the bounds that keep a hostile file from
// asking for unbounded work.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace scenarios {

inline constexpr size_t kMaxLines = 1'000'000;
inline constexpr size_t kMaxTapeBytes = 16u << 20;

// A whole decimal number; nullopt for anything else (empty, sign, suffix).
std::optional<uint64_t> ParseUnsigned(std::string_view text);

// Appends one tape line's bytes (two hex digits each) to `tape`.
// InvalidArgument for an odd length, a bad digit, or a tape past
// kMaxTapeBytes; `tape` may then hold part of the line.
absl::Status AppendTape(std::string_view hex, std::vector<uint8_t>& tape);

}  // namespace scenarios
