// Reading a file the user named (a scenario, a fuzz input, a campaign
// summary) for the tools. A path can fail to be a readable file in several
// ways, and each gets its own message instead of a parse error about empty
// text or an exception out of the stream library (a directory made
// std::ifstream throw std::ios_failure, which aborted `from-fuzz DIR`).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace scenarios {

// Larger inputs are refused: `replay /dev/zero` must end, and no scenario,
// fuzz input or summary comes near this.
inline constexpr size_t kMaxInputFileBytes = size_t{256} << 20;

// The whole file. Errors: "X is a directory"; "cannot open X: <reason>"
// (NotFound for a missing path); "cannot read X: <reason>"; "X is larger
// than 256 MiB". An empty file reads as "": whether that is an error is the
// caller's to say (an empty fuzz input is a valid one).
absl::StatusOr<std::string> ReadInputFile(const std::string& path);

// ReadInputFile, and "X: empty file" for an empty one: for inputs that must
// say something (scenarios).
absl::StatusOr<std::string> ReadNonEmptyInputFile(const std::string& path);

// ReadNonEmptyInputFile, then `parse(text)`, whose error is prefixed with
// the path ("X: line 3: ..."): the reading half of every scenario format.
template <typename Parse>
auto ReadAndParseInputFile(const std::string& path, Parse parse) -> decltype(parse(std::string_view())) {
  const absl::StatusOr<std::string> text = ReadNonEmptyInputFile(path);
  if (!text.ok()) return text.status();
  auto parsed = parse(std::string_view(*text));
  if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", parsed.status().message()));
  return parsed;
}

}  // namespace scenarios
