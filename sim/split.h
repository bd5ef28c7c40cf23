// Splitting text at a separator, for the profile spec and scenario parsers.
// (Debian's Abseil has its own string_view, so absl::StrSplit does not take
// std::string_view.)
#pragma once

#include <string_view>
#include <vector>

namespace sim {

// The pieces of `text` between separators, empty ones included: "a,,b"
// gives {"a", "", "b"} and "" gives {""}.
std::vector<std::string_view> Split(std::string_view text, char separator);

}  // namespace sim
