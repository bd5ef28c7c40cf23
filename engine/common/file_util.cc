#include "engine/common/file_util.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/checksum.h"

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

absl::StatusOr<FileBytes> ReadWholeFileBytes(FileSystem& fs, std::string_view path) {
  SS_ASSERT(!path.empty(), "the root is not a file");
  auto file = fs.Open(path, OpenMode::kRead);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  FileBytes bytes{std::make_unique_for_overwrite<char[]>(static_cast<size_t>(*size)), static_cast<size_t>(*size)};
  auto read = (*file)->ReadAt(0, std::span<char>(bytes.data.get(), bytes.size));
  if (!read.ok()) return read.status();
  if (*read != bytes.size) {
    return absl::DataLossError(fmt::format("{}: short read ({} of {} bytes)", path, *read, *size));
  }
  return bytes;
}

ChunkedFileReader::ChunkedFileReader(std::string path, std::unique_ptr<File> file, uint64_t size,
                                     size_t chunk_bytes)
    : path_(std::move(path)), file_(std::move(file)), size_(size), chunk_bytes_(chunk_bytes) {
  // Never more than the file needs: small files cost no big buffer.
  buffer_ = std::make_unique_for_overwrite<char[]>(static_cast<size_t>(std::min<uint64_t>(chunk_bytes_, std::max<uint64_t>(size_, 1))));
}

absl::StatusOr<ChunkedFileReader> ChunkedFileReader::Open(FileSystem& fs, std::string_view path, size_t chunk_bytes) {
  SS_ASSERT(!path.empty() && chunk_bytes > 0, "chunked read of '{}' by {} bytes", path, chunk_bytes);
  auto file = fs.Open(path, OpenMode::kRead);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  return ChunkedFileReader(std::string(path), std::move(*file), *size, chunk_bytes);
}

absl::StatusOr<std::string_view> ChunkedFileReader::Next() {
  SS_ASSERT(file_ != nullptr && offset_ <= size_);
  const size_t want = static_cast<size_t>(std::min<uint64_t>(chunk_bytes_, size_ - offset_));
  if (want == 0) return std::string_view();
  auto read = file_->ReadAt(offset_, std::span<char>(buffer_.get(), want));
  if (!read.ok()) return read.status();
  if (*read != want) {
    return absl::DataLossError(fmt::format("{}: short read ({} of {} bytes)", path_, offset_ + *read, size_));
  }
  offset_ += want;
  return std::string_view(buffer_.get(), want);
}

absl::StatusOr<uint32_t> FileCrc32c(FileSystem& fs, std::string_view path) {
  auto reader = ChunkedFileReader::Open(fs, path);
  if (!reader.ok()) return reader.status();
  Crc32cHasher crc;
  // One chunk per call at least: bounded by the file's size.
  for (uint64_t done = 0; done < reader->size();) {
    auto chunk = reader->Next();
    if (!chunk.ok()) return chunk.status();
    SS_ASSERT(!chunk->empty(), "{}: no progress at {} of {} bytes", path, done, reader->size());
    crc.process_bytes(chunk->data(), chunk->size());
    done += chunk->size();
  }
  return crc.checksum();
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
