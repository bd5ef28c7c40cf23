// Creating a snapshot archive of a shard (brief §3, "Creating a snapshot").
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"
#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "engine/shard/local_shard.h"
#include "engine/snapshot/sha256.h"
#include "engine/snapshot/tar_archive.h"

namespace engine {

namespace {

// The archive being written and its manifest.
class ArchiveBuilder {
 public:
  explicit ArchiveBuilder(TarWriter& writer) : writer_(writer) {}
  absl::Status Add(const std::string& path, std::string_view contents) {
    manifest_[path] = {{"size", contents.size()}, {"sha256", Sha256Hex(contents)}};
    return writer_.AddFile(path, contents);
  }
  absl::Status AddFileFrom(FileSystem& fs, const std::string& source, const std::string& path) {
    auto contents = ReadWholeFile(fs, source);
    if (!contents.ok()) return contents.status();
    return Add(path, *contents);
  }
  absl::Status AddDirectoryFrom(FileSystem& fs, const std::string& dir, const std::string& prefix) {
    auto entries = fs.ListDir(dir);
    if (!entries.ok()) return entries.status();
    for (const DirEntry& entry : *entries) {
      if (entry.kind != EntryKind::kFile || entry.name.ends_with(".tmp")) continue;
      if (auto status = AddFileFrom(fs, JoinPath(dir, entry.name), JoinPath(prefix, entry.name));
          !status.ok()) {
        return status;
      }
    }
    return absl::OkStatus();
  }
  absl::Status Finish() {
    if (auto status = writer_.AddFile("manifest.json", nlohmann::json{{"files", manifest_}}.dump());
        !status.ok()) {
      return status;
    }
    return writer_.Finish();
  }

 private:
  TarWriter& writer_;
  nlohmann::json manifest_ = nlohmann::json::object();
};

std::string BaseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace

absl::StatusOr<LocalShard::SnapshotInfo> LocalShard::CreateSnapshot(bool save_wal,
                                                                    const std::string& archive_path) {
  FileSystem& fs = env_.fs();
  ClockMap pinned_oldest, pinned_newest;
  if (!save_wal) {
    {
      MutexLock clocks(*clocks_mutex_);
      pinned_oldest = oldest_clocks_;
      pinned_newest = newest_clocks_;
    }
    // Everything enqueued before the pin is applied before the freeze.
    if (auto status = Plunge(); !status.ok()) return status;
  }
  std::optional<uint64_t> ack_pin;
  if (save_wal) {
    MutexLock wal(*wal_mutex_);
    ack_pin = wal_->first_index();
    ack_pins_.insert(*ack_pin);
  }
  auto release_pin = absl::MakeCleanup([&] {
    if (!ack_pin) return;
    MutexLock wal(*wal_mutex_);
    ack_pins_.erase(ack_pins_.find(*ack_pin));
  });
  const std::string temporary_path = archive_path + ".tmp";
  auto file = fs.Open(temporary_path, OpenMode::kCreateTruncate);
  if (!file.ok()) return file.status();
  auto writer = TarWriter::Open(**file);
  if (!writer.ok()) return writer.status();
  ArchiveBuilder archive(**writer);
  SnapshotInfo info;
  auto kept = ProxyAllSegmentsAndApply(
      [&](SegmentId, SegmentEntry& frozen) {
        return archive.AddDirectoryFrom(fs, frozen.directory(),
                                        JoinPath("segments", BaseName(frozen.directory())));
      },
      &info.frozen_through);
  absl::Status status = kept.status();
  if (status.ok() && save_wal) {
    MutexLock wal(*wal_mutex_);
    status = SyncWal();
    for (const std::string& name : wal_->FileNames()) {
      if (!status.ok()) break;
      auto exists = Exists(fs, JoinPath(paths_.wal(), name));
      if (exists.ok() && !*exists) {
        // A WAL never acked has no first-index file yet: archive its value.
        const auto [first_name, contents] = Wal::EmptyWalFile(wal_->first_index());
        status = archive.Add(JoinPath("wal", first_name), contents);
        continue;
      }
      status = archive.AddFileFrom(fs, JoinPath(paths_.wal(), name), JoinPath("wal", name));
    }
    info.wal_next_index = wal_->next_index();
    for (const std::string& clocks : {paths_.newest_clocks(), paths_.oldest_clocks()}) {
      auto exists = Exists(fs, clocks);
      if (status.ok() && exists.ok() && *exists) status = archive.AddFileFrom(fs, clocks, BaseName(clocks));
    }
  } else if (status.ok()) {
    {
      MutexLock wal(*wal_mutex_);
      info.wal_next_index = wal_->next_index();
    }
    const auto [name, contents] = Wal::EmptyWalFile(info.wal_next_index);
    status = archive.Add(JoinPath("wal", name), contents);
    if (status.ok()) status = archive.Add("newest_clocks.json", pinned_newest.ToJson().dump());
    if (status.ok()) status = archive.Add("oldest_clocks.json", pinned_oldest.ToJson().dump());
  }
  std::move(release_pin).Invoke();
  if (status.ok()) {
    status = archive.Add("shard_config.json",
                         nlohmann::json{{"dimension", options_.collection.dimension},
                                        {"distance", DistanceName(options_.collection.distance)}}
                             .dump());
  }
  if (status.ok()) status = archive.Finish();
  if (status.ok()) status = (*file)->Sync();
  if (!status.ok()) {
    (void)fs.Unlink(temporary_path);
    return status;
  }
  file->reset();
  if (auto renamed = fs.Rename(temporary_path, archive_path); !renamed.ok()) return renamed;
  if (auto synced = fs.SyncDir(ParentDir(archive_path)); !synced.ok()) return synced;
  auto bytes = ReadWholeFile(fs, archive_path);
  if (!bytes.ok()) return bytes.status();
  info.archive_bytes = bytes->size();
  if (auto written = WriteFileAtomically(fs, archive_path + ".checksum", Sha256Hex(*bytes));
      !written.ok()) {
    return written;
  }
  return info;
}

}  // namespace engine
