#include "engine/shard/restore.h"

#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/file_util.h"
#include "engine/snapshot/sha256.h"

namespace engine {

namespace {

absl::Status Invalid(std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("snapshot: {}", why));
}

// Checks the manifest against the entries; returns the files to unpack.
absl::StatusOr<std::vector<TarEntry>> VerifyManifest(std::vector<TarEntry> entries) {
  const auto manifest_entry = std::find_if(entries.begin(), entries.end(),
                                           [](const TarEntry& e) { return e.path == "manifest.json"; });
  if (manifest_entry == entries.end()) return Invalid("no manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(manifest_entry->contents, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object() || !manifest.contains("files") ||
      !manifest["files"].is_object()) {
    return Invalid("manifest.json is malformed");
  }
  std::vector<TarEntry> files;
  std::set<std::string> seen;
  bool has_wal = false, has_segments = false;
  for (TarEntry& entry : entries) {
    if (entry.path == "manifest.json" || entry.directory) continue;
    const auto& listed = manifest["files"];
    if (!listed.contains(entry.path) || !listed[entry.path].is_object()) {
      return Invalid(fmt::format("'{}' is not in the manifest", entry.path));
    }
    const auto& expected = listed[entry.path];
    if (expected.value("size", uint64_t{0}) != entry.contents.size() ||
        expected.value("sha256", std::string()) != Sha256Hex(entry.contents)) {
      return Invalid(fmt::format("'{}' does not match its manifest size and checksum", entry.path));
    }
    has_wal = has_wal || entry.path.starts_with("wal/");
    has_segments = has_segments || entry.path.starts_with("segments/");
    seen.insert(entry.path);
    files.push_back(std::move(entry));
  }
  for (const auto& [path, unused] : manifest["files"].items()) {
    if (!seen.contains(path)) return Invalid(fmt::format("manifest lists missing '{}'", path));
  }
  if (!has_wal || !has_segments) return Invalid("the archive lacks wal/ or segments/");
  return files;
}

absl::Status Unpack(FileSystem& fs, const std::string& staging, const std::vector<TarEntry>& files) {
  if (auto status = RemoveTree(fs, staging); !status.ok()) return status;
  if (auto status = fs.Mkdir(staging); !status.ok()) return status;
  std::set<std::string> directories{staging};
  for (const TarEntry& file : files) {
    const std::string path = JoinPath(staging, file.path);
    // Create parent directories, outermost first.
    std::vector<std::string> parents;
    for (std::string_view dir = ParentDir(path); !directories.contains(std::string(dir)); dir = ParentDir(dir)) {
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

}  // namespace

std::string InitializingFlagPath(const std::string& shard_dir) { return shard_dir + ".initializing"; }

absl::StatusOr<std::unique_ptr<LocalShard>> RestoreSnapshot(Env& env, const std::string& archive_path,
                                                            const std::string& shard_dir,
                                                            ShardOptions options,
                                                            const TarLimits& limits) {
  FileSystem& fs = env.fs();
  auto bytes = ReadWholeFile(fs, archive_path);
  if (!bytes.ok()) return bytes.status();
  auto checksum = ReadWholeFile(fs, archive_path + ".checksum");
  if (!checksum.ok()) return checksum.status();
  if (*checksum != Sha256Hex(*bytes)) return Invalid("the archive does not match its .checksum");
  auto entries = ReadTar(*bytes, limits);
  if (!entries.ok()) return entries.status();
  auto files = VerifyManifest(std::move(*entries));
  if (!files.ok()) return files.status();
  // Verified: from here on the live shard is replaced.
  const std::string staging = shard_dir + ".staging";
  const std::string old = shard_dir + ".old";
  if (auto status = Unpack(fs, staging, *files); !status.ok()) return status;
  const std::string flag = InitializingFlagPath(shard_dir);
  if (auto status = WriteFileAtomically(fs, flag, "restoring\n"); !status.ok()) return status;
  if (auto status = RemoveTree(fs, old); !status.ok()) return status;
  auto exists = Exists(fs, shard_dir);
  if (!exists.ok()) return exists.status();
  if (*exists) {
    if (auto status = fs.Rename(shard_dir, old); !status.ok()) return status;
  }
  if (auto status = fs.Rename(staging, shard_dir); !status.ok()) return status;
  if (auto status = fs.SyncDir(ParentDir(shard_dir)); !status.ok()) return status;
  if (auto status = RemoveTree(fs, old); !status.ok()) return status;
  options.ignore_initializing_flag = true;
  auto shard = LocalShard::Load(env, shard_dir, options);
  if (!shard.ok()) return shard.status();
  if (auto status = fs.Unlink(flag); !status.ok()) return status;
  if (auto status = fs.SyncDir(ParentDir(shard_dir)); !status.ok()) return status;
  return shard;
}

}  // namespace engine
