#include "tools/shardsim/output_paths.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

namespace shardsim {

namespace {

namespace fs = std::filesystem;

absl::Status Error(std::string_view flag, const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(fmt::format("{} {}: {}", flag, path, what));
}

// The directory a new file or directory at `path` goes into ("." for a bare name).
fs::path ParentOf(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

}  // namespace

absl::Status CheckOutputFile(std::string_view flag, const std::string& path) {
  if (path.empty()) return Error(flag, "''", "an empty path");
  std::error_code code;
  const fs::file_status status = fs::status(path, code);
  if (fs::is_directory(status)) return Error(flag, path, "is a directory");
  if (fs::exists(status)) {
    // (Not opened: that would block on a FIFO without a reader.)
    if (access(path.c_str(), W_OK) != 0) return Error(flag, path, fmt::format("cannot write: {}", std::strerror(errno)));
    return absl::OkStatus();
  }
  const fs::path parent = ParentOf(path);
  if (!fs::exists(parent, code)) return Error(flag, path, fmt::format("the directory {} does not exist", parent.string()));
  if (!fs::is_directory(parent, code)) return Error(flag, path, fmt::format("{} is not a directory", parent.string()));
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Error(flag, path, fmt::format("cannot create: {}", std::strerror(errno)));
  close(fd);
  unlink(path.c_str());
  return absl::OkStatus();
}

absl::Status CheckOutputDirectory(std::string_view flag, const std::string& path) {
  if (path.empty()) return Error(flag, "''", "an empty path");
  std::error_code code;
  fs::path existing = path;
  while (!fs::exists(existing, code)) existing = ParentOf(existing.string());
  if (!fs::is_directory(existing, code)) {
    return existing == fs::path(path) ? Error(flag, path, "is not a directory")
                                      : Error(flag, path, fmt::format("{} is not a directory", existing.string()));
  }
  if (access(existing.c_str(), W_OK | X_OK) != 0) {
    return Error(flag, path, fmt::format("cannot write in {}: {}", existing.string(), std::strerror(errno)));
  }
  return absl::OkStatus();
}

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace shardsim
