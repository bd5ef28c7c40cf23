#include "sim/fs/fault_fs.h"

#include <fmt/format.h>

namespace sim {

// Fails reads, writes and syncs at the run's rates and reports the inner
// file system's ENOSPC; Size forwards unchanged.
class FaultInjectingFileSystem::FaultyFile final : public engine::FileWrapper {
 public:
  FaultyFile(FaultInjectingFileSystem& fs, std::string path, std::unique_ptr<engine::File> inner)
      : FileWrapper(std::move(inner)), fs_(fs), path_(std::move(path)) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    if (auto status = fs_.MaybeFail(fs_.rates_.read_error, FaultClass::kReadError, fs_.counts_.read_errors, "read",
                                    path_, "nothing read");
        !status.ok()) {
      return status;
    }
    auto read = FileWrapper::ReadAt(offset, out);
    if (read.ok()) fs_.MaybeFlipBit(out, *read, offset, path_);
    return read;
  }
  absl::Status WriteAt(uint64_t offset, std::span<const char> data) override {
    if (auto status = fs_.MaybeFail(fs_.rates_.write_error, FaultClass::kWriteError, fs_.counts_.write_errors,
                                    "write", path_, "nothing written");
        !status.ok()) {
      return status;
    }
    return fs_.NoteNoSpace(FileWrapper::WriteAt(offset, data), path_);
  }
  absl::Status Append(std::span<const char> data) override {
    if (auto status = fs_.MaybeFail(fs_.rates_.write_error, FaultClass::kWriteError, fs_.counts_.write_errors,
                                    "append", path_, "nothing written");
        !status.ok()) {
      return status;
    }
    return fs_.NoteNoSpace(FileWrapper::Append(data), path_);
  }
  absl::Status Truncate(uint64_t size_bytes) override {
    return fs_.NoteNoSpace(FileWrapper::Truncate(size_bytes), path_);
  }
  absl::Status Sync() override {
    if (auto status = fs_.MaybeFail(fs_.rates_.sync_error, FaultClass::kSyncError, fs_.counts_.sync_errors, "sync",
                                    path_, "dirty pages kept");
        !status.ok()) {
      return status;
    }
    if (auto status = fs_.MaybeFail(fs_.rates_.fsync_failure, FaultClass::kFsyncFailure,
                                    fs_.counts_.fsync_failures, "sync", path_, "dirty pages dropped");
        !status.ok()) {
      fs_.SyncFailed(path_);
      return status;
    }
    return FileWrapper::Sync();
  }

 private:
  FaultInjectingFileSystem& fs_;
  std::string path_;
};

void FaultInjectingFileSystem::Report(FaultClass fault, std::string_view path, std::string detail) {
  if (injection_sink_) injection_sink_(Injection{.fault = fault, .path = std::string(path), .detail = std::move(detail)});
}

absl::Status FaultInjectingFileSystem::MaybeFail(double rate, FaultClass fault, uint64_t& counter,
                                                 std::string_view call, std::string_view path,
                                                 std::string_view consequence) {
  if (!decisions_.Rare(rate)) return absl::OkStatus();
  ++counter;
  const std::string message = fmt::format("EIO on {} {}", call, path);
  Report(fault, path, fmt::format("{}; {}", message, consequence));
  return absl::DataLossError(message);
}

void FaultInjectingFileSystem::MaybeFlipBit(std::span<char> buffer, size_t length, uint64_t offset,
                                            std::string_view path) {
  if (length == 0 || !decisions_.Rare(rates_.bit_flip_on_read)) return;
  const uint64_t bit = decisions_.Draw(uint64_t{length} * 8);
  buffer[bit / 8] = static_cast<char>(buffer[bit / 8] ^ (1 << (bit % 8)));
  ++counts_.bit_flips;
  Report(FaultClass::kReadFlip, path,
         fmt::format("bit {} of byte {} flipped in a read of {} bytes at {}", bit % 8, offset + bit / 8, length,
                     offset));
}

void FaultInjectingFileSystem::SyncFailed(std::string_view path) {
  if (sync_failure_hook_) sync_failure_hook_(path);
}

absl::Status FaultInjectingFileSystem::NoteNoSpace(absl::Status status, std::string_view path) {
  if (absl::IsResourceExhausted(status)) {
    ++counts_.no_space;
    Report(FaultClass::kNoSpace, path, std::string(status.message()));
  }
  return status;
}

absl::StatusOr<std::unique_ptr<engine::File>> FaultInjectingFileSystem::Open(
    std::string_view path, engine::OpenMode mode) {
  auto file = FileSystemWrapper::Open(path, mode);
  if (!file.ok()) return file.status();
  return std::make_unique<FaultyFile>(*this, std::string(path), std::move(*file));
}

absl::Status FaultInjectingFileSystem::SyncDir(std::string_view path) {
  if (auto status = MaybeFail(rates_.dir_sync_error, FaultClass::kDirSyncError, counts_.dir_sync_errors,
                              "syncdir", path, "entries stay pending");
      !status.ok()) {
    return status;
  }
  return FileSystemWrapper::SyncDir(path);
}

}  // namespace sim
