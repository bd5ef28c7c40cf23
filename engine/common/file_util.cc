#include "engine/common/file_util.h"

#include <vector>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace engine {

std::string_view ParentDir(std::string_view path) {
  const size_t slash = path.rfind('/');
  const std::string_view parent = slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
  // Strictly shorter: a walk up the tree ends (at "").
  SS_ASSERT(path.empty() || parent.size() < path.size());
  return parent;
}

std::string JoinPath(std::string_view left, std::string_view right) {
  // `right` is relative to `left`: a leading '/' would make an empty
  // component, which every Env refuses.
  SS_ASSERT(right.empty() || right.front() != '/', "joining '{}' to '{}'", right, left);
  if (left.empty()) return std::string(right);
  if (right.empty()) return std::string(left);
  return fmt::format("{}/{}", left, right);
}

absl::StatusOr<std::string> ReadWholeFile(FileSystem& fs, std::string_view path) {
  SS_ASSERT(!path.empty(), "the root is not a file");
  auto file = fs.Open(path, OpenMode::kRead);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  std::string contents(*size, '\0');
  auto read = (*file)->ReadAt(0, std::span<char>(contents.data(), contents.size()));
  if (!read.ok()) return read.status();
  if (*read != contents.size()) {
    return absl::DataLossError(fmt::format("{}: short read ({} of {} bytes)", path, *read, *size));
  }
  return contents;
}

absl::Status WriteFileAtomically(FileSystem& fs, std::string_view path, std::string_view contents) {
  SS_ASSERT(!path.empty(), "the root is not a file");
  const std::string temporary = fmt::format("{}.tmp", path);
  {
    auto file = fs.Open(temporary, OpenMode::kCreateTruncate);
    if (!file.ok()) return file.status();
    if (auto status = (*file)->Append(std::span<const char>(contents.data(), contents.size()));
        !status.ok()) {
      return status;
    }
    if (auto status = (*file)->Sync(); !status.ok()) return status;
  }
  if (auto status = fs.Rename(temporary, path); !status.ok()) return status;
  return fs.SyncDir(ParentDir(path));
}

absl::StatusOr<bool> Exists(FileSystem& fs, std::string_view path) {
  auto kind = fs.Stat(path);
  if (kind.ok()) return true;
  if (absl::IsNotFound(kind.status())) return false;
  return kind.status();
}

absl::Status EnsureDir(FileSystem& fs, std::string_view path) {
  auto status = fs.Mkdir(path);
  if (status.ok() || absl::IsAlreadyExists(status)) return absl::OkStatus();
  return status;
}

absl::Status RemoveTree(FileSystem& fs, std::string_view path, int max_entries) {
  // Removing the root would remove everything the Env holds.
  SS_ASSERT(!path.empty(), "RemoveTree of the root");
  SS_ASSERT(max_entries > 0);
  auto kind = fs.Stat(path);
  if (absl::IsNotFound(kind.status())) return absl::OkStatus();
  if (!kind.ok()) return kind.status();
  if (*kind == EntryKind::kFile) return fs.Unlink(path);
  auto entries = fs.ListDir(path);
  if (!entries.ok()) return entries.status();
  SS_ASSERT(static_cast<int>(entries->size()) <= max_entries, "{}: too many entries", path);
  for (const DirEntry& entry : *entries) {
    if (auto status = RemoveTree(fs, JoinPath(path, entry.name), max_entries); !status.ok()) {
      return status;
    }
  }
  return fs.Rmdir(path);
}

}  // namespace engine
