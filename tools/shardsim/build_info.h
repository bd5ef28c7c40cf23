// What built this binary: the commit and the build type, for `--version`
// and for every campaign's JSON, so results from different builds are never
// merged by accident.
#pragma once

#include <string>

namespace shardsim {

// The project's version (CMakeLists.txt's project()).
std::string BuildVersion();
// The short commit id, with "-dirty" for uncommitted changes to tracked
// files, or "unknown" outside a git checkout. Refreshed at every build.
std::string BuildCommit();
// CMAKE_BUILD_TYPE plus the sanitizers, e.g. "RelWithDebInfo", "RelWithDebInfo+asan+ubsan".
std::string BuildType();
// This machine's host name ("unknown" if it has none).
std::string HostName();

}  // namespace shardsim
