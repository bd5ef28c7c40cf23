#include "tools/shardsim/build_info.h"

#include <unistd.h>

#include <array>

#include "build_info_commit.h"  // generated: tools/cmake/write_build_info.cmake

namespace shardsim {

std::string BuildVersion() { return SHARDSIM_VERSION; }

std::string BuildCommit() { return SHARDSIM_COMMIT; }

std::string BuildType() { return SHARDSIM_BUILD_TYPE; }

std::string HostName() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') return "unknown";
  return std::string(name.data());
}

}  // namespace shardsim
