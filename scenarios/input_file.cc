#include "scenarios/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace scenarios {

namespace {

// Closes the descriptor however the read ends.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) close(fd);
  }
};

std::string Reason(int error) { return std::strerror(error); }

}  // namespace

absl::StatusOr<std::string> ReadInputFile(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    const int error = errno;
    const std::string message = fmt::format("cannot open {}: {}", path, Reason(error));
    return error == ENOENT ? absl::NotFoundError(message) : absl::InvalidArgumentError(message);
  }
  if (S_ISDIR(info.st_mode)) return absl::InvalidArgumentError(fmt::format("{} is a directory", path));
  const Descriptor file{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return absl::InvalidArgumentError(fmt::format("cannot open {}: {}", path, Reason(errno)));
  std::string text;
  char chunk[65536];
  for (;;) {
    const ssize_t got = read(file.fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return absl::InvalidArgumentError(fmt::format("cannot read {}: {}", path, Reason(errno)));
    if (got == 0) return text;
    if (text.size() + static_cast<size_t>(got) > kMaxInputFileBytes) {
      return absl::InvalidArgumentError(fmt::format("{} is larger than {} MiB", path, kMaxInputFileBytes >> 20));
    }
    text.append(chunk, static_cast<size_t>(got));
  }
}

absl::StatusOr<std::string> ReadNonEmptyInputFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadInputFile(path);
  if (text.ok() && text->empty()) return absl::InvalidArgumentError(fmt::format("{}: empty file", path));
  return text;
}

}  // namespace scenarios
