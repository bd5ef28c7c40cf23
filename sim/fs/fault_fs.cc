#include "sim/fs/fault_fs.h"

#include <fmt/format.h>

namespace sim {

namespace {

class FaultyFile final : public engine::File {
 public:
  FaultyFile(FaultInjectingFileSystem& fs, std::string path, std::unique_ptr<engine::File> inner)
      : fs_(fs), path_(std::move(path)), inner_(std::move(inner)) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    FaultCounts& counts = fs_.mutable_counts();
    if (auto status = fs_.MaybeFail(fs_.rates().read_error, counts.read_errors, "read", path_);
        !status.ok()) {
      return status;
    }
    auto read = inner_->ReadAt(offset, out);
    if (read.ok()) fs_.MaybeFlipBit(out, *read, path_);
    return read;
  }
  absl::Status WriteAt(uint64_t offset, std::span<const char> data) override {
    FaultCounts& counts = fs_.mutable_counts();
    if (auto status = fs_.MaybeFail(fs_.rates().write_error, counts.write_errors, "write", path_);
        !status.ok()) {
      return status;
    }
    return inner_->WriteAt(offset, data);
  }
  absl::Status Append(std::span<const char> data) override {
    FaultCounts& counts = fs_.mutable_counts();
    if (auto status = fs_.MaybeFail(fs_.rates().write_error, counts.write_errors, "append", path_);
        !status.ok()) {
      return status;
    }
    return inner_->Append(data);
  }
  absl::StatusOr<uint64_t> Size() override { return inner_->Size(); }
  absl::Status Truncate(uint64_t size_bytes) override { return inner_->Truncate(size_bytes); }
  absl::Status Sync() override {
    FaultCounts& counts = fs_.mutable_counts();
    if (auto status = fs_.MaybeFail(fs_.rates().sync_error, counts.sync_errors, "sync", path_);
        !status.ok()) {
      fs_.SyncFailed(path_);
      return status;
    }
    return inner_->Sync();
  }

 private:
  FaultInjectingFileSystem& fs_;
  std::string path_;
  std::unique_ptr<engine::File> inner_;
};

}  // namespace

absl::Status FaultInjectingFileSystem::MaybeFail(double rate, uint64_t& counter,
                                                 std::string_view call, std::string_view path) {
  if (!decisions_.Chance(rate)) return absl::OkStatus();
  ++counter;
  const std::string description = fmt::format("EIO on {} {}", call, path);
  if (on_fault_) on_fault_(description);
  return absl::DataLossError(description);
}

void FaultInjectingFileSystem::MaybeFlipBit(std::span<char> buffer, size_t length,
                                            std::string_view path) {
  if (length == 0 || !decisions_.Chance(rates_.bit_flip_on_read)) return;
  const uint64_t bit = decisions_.Draw(uint64_t{length} * 8);
  buffer[bit / 8] = static_cast<char>(buffer[bit / 8] ^ (1 << (bit % 8)));
  ++counts_.bit_flips;
  if (on_fault_) on_fault_(fmt::format("bit flip at byte {} reading {}", bit / 8, path));
}

void FaultInjectingFileSystem::SyncFailed(std::string_view path) {
  if (sync_failure_hook_) sync_failure_hook_(path);
}

absl::StatusOr<std::unique_ptr<engine::File>> FaultInjectingFileSystem::Open(
    std::string_view path, engine::OpenMode mode) {
  auto file = inner_.Open(path, mode);
  if (!file.ok()) return file.status();
  return std::make_unique<FaultyFile>(*this, std::string(path), std::move(*file));
}

absl::Status FaultInjectingFileSystem::SyncDir(std::string_view path) {
  if (auto status = MaybeFail(rates_.sync_error, counts_.sync_errors, "syncdir", path);
      !status.ok()) {
    return status;
  }
  return inner_.SyncDir(path);
}

}  // namespace sim
