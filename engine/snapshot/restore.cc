#include "engine/snapshot/restore.h"
#include "engine/snapshot/restore_steps.h"

#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/assert.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"
#include "engine/archive/sha256.h"

namespace engine {

namespace {

absl::Status InvalidSnapshot(std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("snapshot: {}", why));
}

// The steps run in order: what Unpack and ReadArchivedSegments take is
// VerifyManifest's output (manifest.json and directories dropped, every
// file checked), never raw archive entries.
void AssertVerifiedFiles(const std::vector<TarEntry>& files) {
  for (const TarEntry& file : files) {
    SS_ASSERT(!file.directory && file.path != "manifest.json", "'{}' is not a verified file", file.path);
  }
}

}  // namespace

static absl::Status UnpackFiles(FileSystem& fs, const std::string& staging, const std::vector<TarEntry>& files);

const TarEntry* FindEntry(const std::vector<TarEntry>& entries, std::string_view path) {
  for (const TarEntry& entry : entries) {
    if (entry.path == path) return &entry;
  }
  return nullptr;
}

std::string InitializingFlagPath(const std::string& shard_dir) {
  // The flag is beside the shard, not in it: the swap replaces the shard's
  // directory while the flag stays.
  SS_ASSERT(!shard_dir.empty(), "the root is no shard directory");
  return shard_dir + ".initializing";
}

absl::StatusOr<std::vector<TarEntry>> VerifyManifest(std::vector<TarEntry> entries, bool require_segments) {
  const TarEntry* manifest_entry = FindEntry(entries, "manifest.json");
  if (manifest_entry == nullptr) return InvalidSnapshot("no manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(manifest_entry->contents, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object() || !manifest.contains("files") ||
      !manifest["files"].is_object()) {
    return InvalidSnapshot("manifest.json is malformed");
  }
  std::vector<TarEntry> files;
  std::set<std::string> seen;
  bool has_wal = false, has_segments = false;
  for (TarEntry& entry : entries) {
    // ReadTar's output (or a collection's part of it): relative names
    // without a directory's trailing '/'.
    SS_ASSERT(!entry.path.empty() && entry.path.front() != '/' && entry.path.back() != '/', "entry '{}'",
              entry.path);
    if (entry.path == "manifest.json" || entry.directory) continue;
    const auto& listed = manifest["files"];
    if (!listed.contains(entry.path) || !listed[entry.path].is_object()) {
      return InvalidSnapshot(fmt::format("'{}' is not in the manifest", entry.path));
    }
    const auto& expected = listed[entry.path];
    if (expected.value("size", uint64_t{0}) != entry.contents.size() ||
        expected.value("sha256", std::string()) != Sha256Hex(entry.contents)) {
      return InvalidSnapshot(fmt::format("'{}' does not match its manifest size and checksum", entry.path));
    }
    has_wal = has_wal || entry.path.starts_with("wal/");
    has_segments = has_segments || entry.path.starts_with("segments/");
    // ReadTar refuses duplicate names: each file is checked once.
    SS_ASSERT(seen.insert(entry.path).second, "'{}' twice in the archive", entry.path);
    files.push_back(std::move(entry));
  }
  for (const auto& [path, unused] : manifest["files"].items()) {
    if (!seen.contains(path)) return InvalidSnapshot(fmt::format("manifest lists missing '{}'", path));
  }
  if (!has_wal || (require_segments && !has_segments)) return InvalidSnapshot("the archive lacks wal/ or segments/");
  // Exactly the listed files.
  SS_ASSERT(files.size() == manifest["files"].size(), "{} files kept, {} listed", files.size(),
            manifest["files"].size());
  AssertVerifiedFiles(files);
  return files;
}

absl::Status Unpack(FileSystem& fs, const std::string& staging, const std::vector<TarEntry>& files) {
  SS_ASSERT(staging.ends_with(".staging"), "unpacking into '{}'", staging);
  AssertVerifiedFiles(files);
  // VerifyManifest refuses an archive without its WAL.
  SS_ASSERT(std::any_of(files.begin(), files.end(), [](const TarEntry& file) { return file.path.starts_with("wal/"); }),
            "a shard unpacked without its WAL");
  absl::Status status = UnpackFiles(fs, staging, files);
  // A failed unpack (out of space, an I/O error) leaves no partial copy.
  if (!status.ok()) {
    SS_COVER(kRestoreUndone);
    (void)RemoveTree(fs, staging);
  }
  return status;
}

static absl::Status UnpackFiles(FileSystem& fs, const std::string& staging, const std::vector<TarEntry>& files) {
  if (auto status = RemoveTree(fs, staging); !status.ok()) return status;
  if (auto status = fs.Mkdir(staging); !status.ok()) return status;
  std::set<std::string> directories{staging};
  std::set<std::string_view> unpacked;
  for (const TarEntry& file : files) {
    // Each path once (verified archives, disjoint merge plans): a second
    // one would fail its exclusive create as if the disk had refused it.
    SS_ASSERT(unpacked.insert(file.path).second, "'{}' unpacked twice", file.path);
    // A relative path (ReadTar refuses others): everything lands in staging.
    SS_ASSERT(!file.path.empty() && file.path.front() != '/', "archive path '{}'", file.path);
    const std::string path = JoinPath(staging, file.path);
    // Create parent directories, outermost first.
    std::vector<std::string> parents;
    for (std::string_view dir = ParentDir(path); !directories.contains(std::string(dir)); dir = ParentDir(dir)) {
      // Every walk up ends at staging, which is in `directories`.
      SS_ASSERT(dir.size() > staging.size() && dir.starts_with(staging), "'{}' outside '{}'", dir, staging);
      parents.emplace_back(dir);
    }
    for (auto it = parents.rbegin(); it != parents.rend(); ++it) {
      if (auto status = EnsureDir(fs, *it); !status.ok()) return status;
      directories.insert(*it);
    }
    auto out = fs.Open(path, OpenMode::kCreateExclusive);
    if (!out.ok()) return out.status();
    if (auto status = (*out)->Append(std::span<const char>(file.contents.data(), file.contents.size()));
        !status.ok()) {
      return status;
    }
    if (auto status = (*out)->Sync(); !status.ok()) return status;
  }
  // Deepest first, so every entry is durable before its parent's entry is.
  for (auto it = directories.rbegin(); it != directories.rend(); ++it) {
    if (auto status = fs.SyncDir(*it); !status.ok()) return status;
  }
  return fs.SyncDir(ParentDir(staging));
}


absl::StatusOr<std::vector<TarEntry>> ReadVerifiedTar(FileSystem& fs, const std::string& archive_path,
                                                      const TarLimits& limits) {
  SS_ASSERT(!archive_path.empty());
  auto bytes = ReadWholeFile(fs, archive_path);
  if (!bytes.ok()) return bytes.status();
  auto checksum = ReadWholeFile(fs, archive_path + ".checksum");
  if (!checksum.ok()) return checksum.status();
  if (*checksum != Sha256Hex(*bytes)) return InvalidSnapshot("the archive does not match its .checksum");
  return ReadTar(*bytes, limits);
}

absl::StatusOr<ArchivedSegments> ReadArchivedSegments(const std::vector<TarEntry>& files) {
  AssertVerifiedFiles(files);
  const TarEntry* entry = FindEntry(files, kSegmentsManifestName);
  // Archives from before segment manifests are full snapshots.
  if (entry == nullptr) return ArchivedSegments{};
  const nlohmann::json json = nlohmann::json::parse(entry->contents, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("partial") ||
      !json["partial"].is_boolean() || !json.contains("segments")) {
    return InvalidSnapshot(fmt::format("{} is malformed", kSegmentsManifestName));
  }
  auto manifest = SnapshotManifestFromJson(json["segments"]);
  if (!manifest.ok()) return manifest.status();
  return ArchivedSegments{.present = true, .partial = json["partial"].get<bool>(),
                          .manifest = std::move(*manifest)};
}

static absl::Status TrialLoad(Env& env, const std::string& staging, ShardOptions options) {
  SS_ASSERT(staging.ends_with(".staging"), "trial load of '{}'", staging);
  options.ignore_initializing_flag = true;
  options.observer = nullptr;  // not the shard the caller observes
  auto shard = LocalShard::Load(env, staging, options);
  if (!shard.ok()) return shard.status();
  return (*shard)->Shutdown();
}

absl::StatusOr<std::unique_ptr<LocalShard>> SwapInStaged(Env& env, const std::string& staging,
                                                         const std::string& shard_dir,
                                                         ShardOptions options) {
  // Staged beside the shard: the swap is two renames within one directory.
  SS_ASSERT(!shard_dir.empty() && staging == shard_dir + ".staging", "staging '{}' for '{}'", staging, shard_dir);
  FileSystem& fs = env.fs();
  // A verified archive can still hold a shard that does not load (a
  // well-formed but wrong segment.json): find out on the staged copy, while
  // the live shard is still untouched.
  if (auto status = TrialLoad(env, staging, options); !status.ok()) {
    (void)RemoveTree(fs, staging);
    return absl::Status(status.code(), fmt::format("the snapshot does not load (the live shard is untouched): {}",
                                                   std::string(status.message())));
  }
  const std::string old = shard_dir + ".old";
  const std::string flag = InitializingFlagPath(shard_dir);
  // Until the live directory moves, a failure leaves it exactly as it was:
  // the flag and the staged copy go again — unless an earlier interrupted
  // restore had left the shard dirty, which it stays (its directory may be
  // missing, with the data in `.old`).
  auto was_dirty = Exists(fs, flag);
  if (!was_dirty.ok()) {
    (void)RemoveTree(fs, staging);
    return was_dirty.status();
  }
  bool live_moved = false;
  const auto undo = [&](absl::Status status) {
    // Only while the live directory is where it was can it be left as it was.
    SS_ASSERT(!live_moved, "{}: undo after the swap", shard_dir);
    SS_COVER(kRestoreUndone);
    (void)RemoveTree(fs, staging);
    (void)fs.Unlink(flag + ".tmp");
    if (!*was_dirty) (void)fs.Unlink(flag);
    (void)fs.SyncDir(ParentDir(shard_dir));
    return status;
  };
  if (auto status = WriteFileAtomically(fs, flag, "restoring\n"); !status.ok()) return undo(status);
  if (auto status = RemoveTree(fs, old); !status.ok()) return undo(status);
  auto exists = Exists(fs, shard_dir);
  if (!exists.ok()) return undo(exists.status());
  if (*exists) {
    if (auto status = fs.Rename(shard_dir, old); !status.ok()) return undo(status);
  }
  if (auto status = fs.Rename(staging, shard_dir); !status.ok()) {
    if (*exists) (void)fs.Rename(old, shard_dir);
    return undo(status);
  }
  live_moved = true;
  // From here a failure leaves the shard dirty (the flag refuses loads)
  // until the restore is run again.
  if (auto status = fs.SyncDir(ParentDir(shard_dir)); !status.ok()) return status;
  if (auto status = RemoveTree(fs, old); !status.ok()) return status;
  options.ignore_initializing_flag = true;
  auto shard = LocalShard::Load(env, shard_dir, options);
  if (!shard.ok()) return shard.status();
  // (Shut down explicitly on failure: a destructor must not do I/O.)
  absl::Status cleared = fs.Unlink(flag);
  if (cleared.ok()) cleared = fs.SyncDir(ParentDir(shard_dir));
  if (!cleared.ok()) {
    (void)(*shard)->Shutdown();
    return cleared;
  }
  SS_ASSERT(*shard != nullptr);
  return shard;
}

absl::StatusOr<std::unique_ptr<LocalShard>> RestoreFromEntries(Env& env, std::vector<TarEntry> entries,
                                                               const std::string& shard_dir,
                                                               ShardOptions options) {
  // Staging goes beside the shard (shard_dir + ".staging"): a trailing slash
  // would put it inside the directory it replaces.
  SS_ASSERT(!shard_dir.empty() && !shard_dir.ends_with('/'), "restore into '{}'", shard_dir);
  auto files = VerifyManifest(std::move(entries), /*require_segments=*/true);
  if (!files.ok()) return files.status();
  auto segments = ReadArchivedSegments(*files);
  if (!segments.ok()) return segments.status();
  if (segments->partial) return InvalidSnapshot("a partial snapshot: recover it with RecoverPartialSnapshot");
  // Verified: from here on the live shard is replaced.
  const std::string staging = shard_dir + ".staging";
  if (auto status = Unpack(env.fs(), staging, *files); !status.ok()) return status;
  return SwapInStaged(env, staging, shard_dir, std::move(options));
}

absl::StatusOr<std::unique_ptr<LocalShard>> RestoreSnapshot(Env& env, const std::string& archive_path,
                                                            const std::string& shard_dir,
                                                            ShardOptions options,
                                                            const TarLimits& limits) {
  SS_ASSERT(archive_path != shard_dir, "restoring '{}' over itself", archive_path);
  auto entries = ReadVerifiedTar(env.fs(), archive_path, limits);
  if (!entries.ok()) return entries.status();
  return RestoreFromEntries(env, std::move(*entries), shard_dir, std::move(options));
}

}  // namespace engine
