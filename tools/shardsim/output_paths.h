// Checks that an output path can be written, made before the work that
// fills it: `campaign --json /nonexistent/x` used to fail only after the
// whole campaign had run. Every command with an output file or directory
// flag checks it first and exits 2 (bad usage) with the error.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace shardsim {

// `path` can be written as a file: an existing one must not be a directory
// and must be writable; a new one is created and removed again (so that a
// missing or read-only directory shows now). The error names `flag`.
absl::Status CheckOutputFile(std::string_view flag, const std::string& path);

// `path` is a writable directory, or the nearest directory above it that
// exists is writable (commands create the rest when they first write).
absl::Status CheckOutputDirectory(std::string_view flag, const std::string& path);

// Writes `text` to `path`, replacing the file. False when it could not be
// written whole (the caller names the path in its error).
bool WriteText(const std::string& path, const std::string& text);

}  // namespace shardsim
