#include "engine/snapshot/partial_snapshot.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"
#include "engine/common/assert.h"
#include "engine/common/checksum.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"
#include "engine/snapshot/restore.h"
#include "engine/snapshot/restore_steps.h"

namespace engine {

namespace {

absl::Status InvalidPartialSnapshot(std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("partial snapshot: {}", why));
}

std::string Normalized(std::string dir) {
  // "shard" and "shard/" are one shard; a registry key is never empty.
  SS_ASSERT(!dir.empty(), "the root is no shard directory");
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// Splits "segments/<id>/<file>"; nullopt for any other shape.
std::optional<std::pair<std::string, std::string>> SegmentFile(std::string_view path) {
  if (!path.starts_with("segments/")) return std::nullopt;
  path.remove_prefix(std::string_view("segments/").size());
  const size_t slash = path.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string id(path.substr(0, slash)), file(path.substr(slash + 1));
  if (!IsPlainName(id) || !IsPlainName(file)) return std::nullopt;
  // The split joins back into the path: one path, one segment file.
  SS_ASSERT(fmt::format("segments/{}/{}", id, file) == fmt::format("segments/{}", path));
  return std::make_pair(id, file);
}

// Every file must be one the recovery knows where to put: a segment file
// the sender's manifest lists, the WAL, or the shard's metadata files.
// Returns the archived segment files.
absl::StatusOr<std::set<std::string>> CheckArchivedPaths(const std::vector<TarEntry>& files,
                                                         const SnapshotManifest& full) {
  static const std::set<std::string> kShardFiles = {"shard_config.json", "newest_clocks.json",
                                                    "oldest_clocks.json", kSegmentsManifestName};
  std::set<std::string> archived;
  for (const TarEntry& entry : files) {
    // Verified files (restore_steps.h): manifest.json is not one of them.
    SS_ASSERT(!entry.directory && entry.path != "manifest.json", "'{}' is not a verified file", entry.path);
    if (kShardFiles.contains(entry.path)) continue;
    if (entry.path.starts_with("wal/") && IsPlainName(entry.path.substr(4))) continue;
    const auto segment_file = SegmentFile(entry.path);
    if (!segment_file) return InvalidPartialSnapshot(fmt::format("unexpected entry '{}'", entry.path));
    const auto& [id, file] = *segment_file;
    const auto segment = full.segments.find(id);
    if (segment == full.segments.end() || !segment->second.files.contains(file)) {
      return InvalidPartialSnapshot(fmt::format("'{}' is not in the segments manifest", entry.path));
    }
    archived.insert(entry.path);
  }
  SS_ASSERT(archived.size() <= files.size());
  return archived;
}

// The archive must be for this collection's vectors.
absl::Status CheckShardConfig(const std::vector<TarEntry>& files, const CollectionConfig& collection) {
  const TarEntry* entry = FindEntry(files, "shard_config.json");
  if (entry == nullptr) return InvalidPartialSnapshot("no shard_config.json");
  const nlohmann::json json = nlohmann::json::parse(entry->contents, nullptr, false);
  if (json.is_discarded() || !json.is_object() || json.value("dimension", uint64_t{0}) != collection.dimension ||
      json.value("distance", std::string()) != DistanceName(collection.distance)) {
    return InvalidPartialSnapshot("shard_config.json does not match the shard's collection");
  }
  return absl::OkStatus();
}

// Where the local shard's data is. After a crash between the two renames of
// an earlier attempt, the shard directory is missing and its data (flagged
// dirty) is in `<shard>.old`.
absl::StatusOr<std::string> LocalSource(FileSystem& fs, const std::string& shard_dir) {
  SS_ASSERT(!shard_dir.empty(), "the root is no shard directory");
  auto exists = Exists(fs, shard_dir);
  if (!exists.ok()) return exists.status();
  if (*exists) return shard_dir;
  auto flagged = Exists(fs, InitializingFlagPath(shard_dir));
  if (!flagged.ok()) return flagged.status();
  auto old = Exists(fs, shard_dir + ".old");
  if (!old.ok()) return old.status();
  if (*flagged && *old) return shard_dir + ".old";
  return absl::FailedPreconditionError(
      fmt::format("partial snapshot: no local shard in '{}' to merge into", shard_dir));
}

absl::Status CheckKeptFile(const SnapshotManifest& local, const SnapshotManifest& full, const std::string& id,
                           const std::string& file, const Version& version) {
  // A file of the sender's manifest, at the version it lists there.
  SS_ASSERT(full.segments.contains(id) && full.segments.at(id).files.contains(file) &&
                full.segments.at(id).files.at(file) == version,
            "segments/{}/{} is not in the sender's manifest at that version", id, file);
  const auto segment = local.segments.find(id);
  const Version* local_version = nullptr;
  if (segment != local.segments.end()) {
    const auto it = segment->second.files.find(file);
    if (it != segment->second.files.end()) local_version = &it->second;
  }
  const auto checksum = [](const SnapshotManifest& manifest, const std::string& id, const std::string& file) {
    std::optional<uint32_t> found;
    if (const auto segment = manifest.segments.find(id); segment != manifest.segments.end()) {
      if (const auto it = segment->second.checksums.find(file); it != segment->second.checksums.end()) found = it->second;
    }
    return found;
  };
  if (local_version != nullptr && *local_version == version) {
    if (checksum(local, id, file) == checksum(full, id, file)) return absl::OkStatus();
    return absl::FailedPreconditionError(fmt::format(
        "partial snapshot: the shard's segments/{}/{} is at the expected version but holds other bytes; the "
        "shard changed since its manifest was taken", id, file));
  }
  return absl::FailedPreconditionError(fmt::format(
      "partial snapshot: the shard's segments/{}/{} is {} but the snapshot expects it at version {}; "
      "the shard changed since its manifest was taken",
      id, file, local_version == nullptr ? "missing" : fmt::format("at version {}", local_version->value_or(0)),
      version.value_or(0)));
}

// Every segment of the sender's manifest is either replaced or kept (never
// both), every local segment it lacks is removed, and each local file copied
// is one the archive lacks (so the merged shard holds every path once) and
// has the checksum it must be copied with.
void AssertPlanConsistent(const PartialMergePlan& plan, const SnapshotManifest& local,
                          const SnapshotManifest& full, const std::set<std::string>& archived_files) {
  SS_ASSERT(plan.replaced.size() + plan.kept.size() == full.segments.size(), "{} replaced + {} kept of {}",
            plan.replaced.size(), plan.kept.size(), full.segments.size());
  // Both lists follow the manifest's (sorted) order: a common id would
  // show in their sorted intersection.
  std::vector<std::string> both;
  std::set_intersection(plan.replaced.begin(), plan.replaced.end(), plan.kept.begin(), plan.kept.end(),
                        std::back_inserter(both));
  SS_ASSERT(both.empty(), "segment {} both kept and replaced", both.empty() ? "" : both.front());
  for (const std::string& id : plan.removed) {
    SS_ASSERT(local.segments.contains(id) && !full.segments.contains(id), "segment {} removed", id);
  }
  for (const std::string& id : plan.kept) SS_ASSERT(local.segments.contains(id), "segment {} kept but missing", id);
  for (const std::string& id : plan.replaced) {
    const std::string prefix = fmt::format("segments/{}/", id);
    const auto first = archived_files.lower_bound(prefix);
    SS_ASSERT(first != archived_files.end() && first->starts_with(prefix), "segment {} replaced by nothing", id);
  }
  SS_ASSERT(plan.local_files.size() == plan.local_checksums.size());
  for (const std::string& path : plan.local_files) {
    SS_ASSERT(!archived_files.contains(path), "{} both kept and replaced", path);
  }
  // Disjoint, and both within the sender's files: together exactly them.
  size_t full_files = 0;
  for (const auto& [id, segment] : full.segments) full_files += segment.files.size();
  SS_ASSERT(archived_files.size() + plan.local_files.size() == full_files, "{} archived + {} local of {} files",
            archived_files.size(), plan.local_files.size(), full_files);
}

}  // namespace

class PartialRecoveryRegistry::SpinGuard {
 public:
  explicit SpinGuard(std::atomic_flag& flag) : flag_(flag) {
    // The critical sections never block: a spin this long is a lost
    // Release, not contention.
    for (uint64_t spins = 0; flag_.test_and_set(std::memory_order_acquire); ++spins) {
      SS_ASSERT(spins < kMaxSpins, "the partial recovery registry's flag is stuck");
    }
  }
  ~SpinGuard() {
    SS_ASSERT(flag_.test(std::memory_order_relaxed), "the registry's flag was released under its guard");
    flag_.clear(std::memory_order_release);
  }

 private:
  static constexpr uint64_t kMaxSpins = uint64_t{1} << 36;
  std::atomic_flag& flag_;
};

absl::Status PartialRecoveryRegistry::TryAcquire(const std::string& shard_dir) {
  SpinGuard guard(locked_);
  if (!busy_.insert(Normalized(shard_dir)).second) {
    return absl::UnavailableError(
        fmt::format("a partial snapshot recovery of '{}' is already in progress", shard_dir));
  }
  return absl::OkStatus();
}

void PartialRecoveryRegistry::Release(const std::string& shard_dir) {
  SpinGuard guard(locked_);
  // Only what TryAcquire granted is released, once.
  const size_t released = busy_.erase(Normalized(shard_dir));
  SS_ASSERT(released == 1, "'{}' released without a recovery running", shard_dir);
}

bool PartialRecoveryRegistry::Busy(const std::string& shard_dir) {
  SpinGuard guard(locked_);
  return busy_.contains(Normalized(shard_dir));
}

absl::StatusOr<PartialMergePlan> PlanPartialMerge(const SnapshotManifest& local,
                                                  const SnapshotManifest& full,
                                                  const std::set<std::string>& archived_files) {
  // CheckArchivedPaths ran first: every archived file is a listed segment file.
  for (const std::string& path : archived_files) {
    const auto segment_file = SegmentFile(path);
    SS_ASSERT(segment_file && full.segments.contains(segment_file->first) &&
                  full.segments.at(segment_file->first).files.contains(segment_file->second),
              "archived '{}' is not in the sender's manifest", path);
  }
  PartialMergePlan plan;
  for (const auto& [id, segment] : full.segments) {
    bool replaced = false;
    for (const auto& [file, version] : segment.files) {
      const std::string path = fmt::format("segments/{}/{}", id, file);
      if (archived_files.contains(path)) {
        replaced = true;
        continue;
      }
      if (auto status = CheckKeptFile(local, full, id, file, version); !status.ok()) return status;
      plan.local_files.push_back(path);
      plan.local_checksums.push_back(segment.checksums.at(file));
    }
    if (!replaced) {
      // Kept whole: the local copy must be the one the sender compared.
      const auto local_segment = local.segments.find(id);
      if (local_segment == local.segments.end() ||
          local_segment->second.segment_version != segment.segment_version) {
        return absl::FailedPreconditionError(fmt::format(
            "partial snapshot: the shard's segment {} is not at the version the snapshot expects", id));
      }
    }
    (replaced ? plan.replaced : plan.kept).push_back(id);
  }
  for (const auto& [id, unused] : local.segments) {
    if (!full.segments.contains(id)) plan.removed.push_back(id);
  }
  AssertPlanConsistent(plan, local, full, archived_files);
  return plan;
}

absl::StatusOr<std::unique_ptr<LocalShard>> RecoverPartialSnapshot(Env& env, const std::string& archive_path,
                                                                   const std::string& shard_dir,
                                                                   PartialRecoveryOptions options) {
  SS_ASSERT(options.registry != nullptr, "a partial recovery needs the process's registry");
  if (auto status = options.registry->TryAcquire(shard_dir); !status.ok()) return status;
  absl::Cleanup release = [&] { options.registry->Release(shard_dir); };
  FileSystem& fs = env.fs();
  auto entries = ReadVerifiedTar(fs, archive_path, options.limits);
  if (!entries.ok()) return entries.status();
  auto files = VerifyManifest(std::move(*entries), /*require_segments=*/false);
  if (!files.ok()) return files.status();
  auto archived = ReadArchivedSegments(*files);
  if (!archived.ok()) return archived.status();
  if (!archived->present || !archived->partial) return InvalidPartialSnapshot("not a partial snapshot");
  auto archived_files = CheckArchivedPaths(*files, archived->manifest);
  if (!archived_files.ok()) return archived_files.status();
  if (auto status = CheckShardConfig(*files, options.shard.collection); !status.ok()) return status;
  auto source = LocalSource(fs, shard_dir);
  if (!source.ok()) return source.status();
  auto local = ShardManifestFromDisk(fs, *source);
  if (!local.ok()) return local.status();
  auto plan = PlanPartialMerge(*local, archived->manifest, *archived_files);
  if (!plan.ok()) return plan.status();
  // Planned and verified: build the merged shard beside the live one.
  for (size_t i = 0; i < plan->local_files.size(); ++i) {
    const std::string& path = plan->local_files[i];
    auto contents = ReadWholeFile(fs, JoinPath(*source, path));
    if (!contents.ok()) return contents.status();
    // Read again, so checked again: a bad read here would otherwise be
    // written into the merged shard (seed 53983: a flipped COMPLETE made
    // every later recovery refuse the receiver).
    if (Crc32c(*contents) != plan->local_checksums[i]) {
      SS_COVER(kDamageDetected);
      return absl::DataLossError(fmt::format("partial snapshot: {} read back with other bytes than its checksum",
                                             JoinPath(*source, path)));
    }
    files->push_back(TarEntry{.path = path, .contents = std::move(*contents)});
  }
  const std::string staging = shard_dir + ".staging";
  if (auto status = Unpack(fs, staging, *files); !status.ok()) return status;
  return SwapInStaged(env, staging, shard_dir, std::move(options.shard));
}

}  // namespace engine
