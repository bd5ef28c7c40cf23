// SimFileSystem: an in-memory file system that keeps, for every file and
// directory, what is durable apart from what is only in the page cache.
//
// Model (strict POSIX):
// - A file's durable contents change only at File::Sync: the writes and
//   truncates made since the previous sync (its "unsynced log") are applied to
//   the durable image. Reads always see the volatile contents.
// - A directory's durable entries change only at SyncDir of that directory:
//   creates, unlinks and renames in or out of it become durable then. A
//   rename across directories needs both directories synced.
// - A process crash keeps everything (the page cache survives) and only
//   invalidates open handles. A power loss keeps, per file, the durable image
//   plus what the crash model lets survive of the unsynced log, and, per
//   directory, only the durable entries; unreachable inodes are dropped.
// - DropDirtyPages (what Linux does after a failed fsync) forgets a file's
//   unsynced log without making it durable: reads still see the data, a
//   later Sync succeeds without persisting it, a power loss loses it.
//
// Not thread-safe: the simulated world runs on one thread. Deterministic:
// every random choice comes from the DecisionSource passed to Crash.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/env/env.h"
#include "sim/decision.h"

namespace sim {

enum class CrashKind : uint8_t { kProcessCrash, kPowerLoss };

enum class CrashModel : uint8_t {
  kDropAllUnsynced,  // only synced data survives
  kRandomPrefix,     // each file keeps a random prefix of its unsynced log
  kRandomBlocks,     // each 4 KiB block (and the size) is independently old or new
  kTornLastBlock,    // each file keeps its unsynced log but the last write, of which
                     // a random prefix of bytes survives (a write torn mid-way)
};

class SimFileSystem final : public engine::FileSystem {
 public:
  static constexpr uint64_t kBlockBytes = 4096;

  SimFileSystem();
  ~SimFileSystem() override;

  absl::StatusOr<std::unique_ptr<engine::File>> Open(std::string_view path,
                                                     engine::OpenMode mode) override;
  absl::Status Mkdir(std::string_view path) override;
  absl::Status Rmdir(std::string_view path) override;
  absl::Status Unlink(std::string_view path) override;
  absl::Status Rename(std::string_view from, std::string_view to) override;
  absl::Status SyncDir(std::string_view path) override;
  absl::StatusOr<std::vector<engine::DirEntry>> ListDir(std::string_view path) override;
  absl::StatusOr<engine::EntryKind> Stat(std::string_view path) override;

  absl::Status Crash(CrashKind kind, CrashModel model, DecisionSource& decisions);
  void DropDirtyPages(std::string_view path);

  // 0 = unlimited. Writes that would grow the total file bytes past it fail
  // with ResourceExhausted and change nothing.
  void set_capacity_bytes(uint64_t capacity_bytes) { capacity_bytes_ = capacity_bytes; }
  uint64_t total_bytes() const;
  uint64_t generation() const { return generation_; }
  // Every path, sorted, with file sizes: for debugging and state dumps.
  std::string DumpTree() const;
  // The durable image of a file as a power loss dropping all unsynced data
  // would leave it (ignores directory durability). NotFound if missing.
  absl::StatusOr<std::string> ReadDurable(std::string_view path) const;

  // ---- Used by the file handles. ----
  struct Inode;
  Inode* FindInode(uint64_t id);
  absl::Status CheckCapacity(uint64_t old_size, uint64_t new_size) const;

 private:
  struct Lookup {
    uint64_t parent = 0;  // inode of the parent directory
    std::string name;     // last component ("" for the root)
    uint64_t inode = 0;   // 0 if missing
  };
  absl::StatusOr<Lookup> Resolve(std::string_view path) const;
  absl::StatusOr<uint64_t> ResolveDirectory(std::string_view path) const;
  uint64_t NewInode(bool directory);
  void ApplyPowerLoss(CrashModel model, DecisionSource& decisions);
  void CollectReachable(uint64_t inode, std::vector<uint64_t>& reachable, int depth) const;
  void DumpDirectory(uint64_t inode, const std::string& prefix, std::string& out, int depth) const;

  std::map<uint64_t, std::unique_ptr<Inode>> inodes_;
  uint64_t next_inode_ = 2;  // 1 is the root
  uint64_t generation_ = 0;
  uint64_t capacity_bytes_ = 0;
};

}  // namespace sim
