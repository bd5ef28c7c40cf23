// SimFileSystem: an in-memory file system that keeps, for every file and
// directory, what is durable apart from what is only in the page cache.
//
// Model (strict POSIX):
// - A file's durable contents change only at File::Sync: the writes and
//   truncates made since the previous sync (its "unsynced log") are applied to
//   the durable image. Reads always see the volatile contents.
// - A directory's entries change by namespace operations (create, mkdir,
//   unlink, rmdir, rename); each is pending until SyncDir of its directory
//   makes it durable. A rename is two halves, one per directory: a rename
//   across directories needs both directories synced.
// - A process crash keeps everything (the page cache survives) and only
//   invalidates open handles. A power loss keeps, per file, the durable image
//   plus what the crash model lets survive of the unsynced log, and, per
//   directory, its durable entries plus the pending operations the directory
//   model keeps (see DirectoryModel); inodes no entry reaches are dropped.
//   kDropAllUnsynced drops every pending operation, data and namespace.
// - DropDirtyPages (what Linux does after a failed fsync) forgets a file's
//   unsynced data without making it durable: reads still see the data, a
//   later Sync succeeds without persisting it, a power loss loses it. The
//   file's size is metadata and stays pending: the next Sync persists it.
// - Space: with a capacity, a write that would grow the total file bytes past
//   it fails with ResourceExhausted. Every inode counts until it is collected
//   at a power loss, so unlinking does not give space back while the page
//   cache still holds the file (a simplification).
//
// Not thread-safe: the simulated world runs on one thread. Deterministic:
// every random choice comes from the DecisionSource passed to Crash.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/env/env.h"
#include "sim/decision.h"
#include "sim/fs/injection.h"

namespace sim {

class NamespaceLog;
struct NamespaceOp;

enum class CrashKind : uint8_t { kProcessCrash, kPowerLoss };

enum class CrashModel : uint8_t {
  kDropAllUnsynced,  // only synced data and synced directory entries survive
  kRandomPrefix,     // each file keeps a random prefix of its unsynced log
  kRandomBlocks,     // each 4 KiB block (and the size) is independently old or new
  kTornLastBlock,    // each file keeps its unsynced log but the last write, of which
                     // a random prefix of bytes survives (a write torn mid-way)
};

// Which pending namespace operations a power loss (under any crash model but
// kDropAllUnsynced) keeps.
enum class DirectoryModel : uint8_t {
  // Strict POSIX: per name (directory + entry name) a prefix of its pending
  // operations, each name on its own; a rename whose both halves are pending
  // is kept or dropped whole.
  kPerEntry,
  // ext4 data=ordered: a global prefix of the pending namespace log (one
  // cut point, journal order), and a file moved by a kept rename keeps the
  // unsynced writes issued before that rename (auto_da_alloc).
  kOrderedJournal,
};

// One pending (unsynced) operation a power loss may keep or drop: a file's
// write or truncate, or one namespace operation (a rename is two: its
// unlink half and its link half).
struct PendingOperation {
  enum class Kind : uint8_t { kWrite, kTruncate, kCreate, kMkdir, kUnlink, kRmdir, kRenameFrom, kRenameTo };
  Kind kind = Kind::kWrite;
  // A data operation: the file's path ("<inode N>" if no entry reaches it);
  // a namespace operation: the entry's path at the time of the call.
  std::string path;
  std::string description;  // "write 512 bytes at 4096 to wal/0", "create wal/1"
  uint64_t inode = 0;       // data: the file written; create, mkdir, rename-to: the inode bound
  uint64_t directory = 0;   // namespace: inode of the entry's directory
  std::string name;         // namespace: the entry's name in that directory
  // Both halves of a rename pending: the index of the other half, which
  // must be kept or dropped with this one.
  std::optional<size_t> partner;

  bool IsNamespace() const { return kind != Kind::kWrite && kind != Kind::kTruncate; }
};

// Picks which pending operations a power loss keeps: keep[i] for the i-th
// of SimFileSystem::PendingOperations(). It must pick a legal subset
// (sim/fs/power_loss_states.h: CheckKeepLegal).
using PowerLossChooser = std::function<std::vector<bool>(const std::vector<PendingOperation>&)>;

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

  // A process crash or a power loss drawn under `model` and the directory
  // model. Invalidates every open handle.
  absl::Status Crash(CrashKind kind, CrashModel model, DecisionSource& decisions);
  void DropDirtyPages(std::string_view path);

  void set_directory_model(DirectoryModel model) { directory_model_ = model; }
  DirectoryModel directory_model() const { return directory_model_; }
  // Where a power loss reports what it destroyed (kLostUnsynced,
  // kTornWrite, kDirEntryLoss). Without a sink nothing is reported.
  void set_injection_sink(InjectionSink sink) { injection_sink_ = std::move(sink); }

  // ---- Power-loss state enumeration (CrashMonkey/ALICE style). ----
  // Every pending operation, in the order they happened.
  std::vector<PendingOperation> PendingOperations() const;
  // A power loss that keeps exactly the operations with keep[i] true
  // (indices of PendingOperations()). A file's kept writes apply in their
  // original order, any subset allowed. InvalidArgument, changing nothing,
  // if keep has the wrong size, keeps a namespace operation after dropping
  // an earlier one on the same name, or splits the pending halves of a
  // rename. Reports kLostUnsynced and kDirEntryLoss for what it drops.
  absl::Status PowerLossKeeping(const std::vector<bool>& keep);

  // ---- Latent rot of stored blocks. ----
  struct StoredFile {
    std::string path;
    uint64_t durable_bytes = 0;
  };
  // Files reachable under the directory `under` ("" = everywhere) with a
  // non-empty durable image, sorted by path. Empty if `under` is missing.
  std::vector<StoredFile> StoredFiles(std::string_view under) const;
  // Flips bit `bit_index` (bit % 8 of byte bit / 8) of the file's durable
  // image, and of what reads see if that byte exists there. OutOfRange past
  // the durable image; NotFound if missing.
  absl::Status FlipStoredBit(std::string_view path, uint64_t bit_index);
  // Whether a file reachable under `under` still reads a byte FlipStoredBit
  // flipped (not rewritten, truncated away or replaced since): a load that
  // keeps refusing such a shard detects real damage.
  bool HoldsRot(std::string_view under) const;

  // 0 = unlimited. Writes that would grow the total allocated bytes past it
  // fail with ResourceExhausted and change nothing.
  void set_capacity_bytes(uint64_t capacity_bytes) { capacity_bytes_ = capacity_bytes; }
  uint64_t capacity_bytes() const { return capacity_bytes_; }
  // Space is allocated per file in units of this size, as a real file system
  // allocates blocks: a file's first byte takes a whole unit, and a write
  // inside its last unit takes no space. 0 or 1 = byte-exact (the default).
  // REQUIRES: a power of two, or 0.
  void set_allocation_unit_bytes(uint64_t unit_bytes);
  uint64_t allocation_unit_bytes() const { return allocation_unit_bytes_; }
  // Bytes allocated to every file (each size rounded up to the unit).
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
  // ResourceExhausted "ENOSPC writing <path>: ..." if growing a file from
  // old_size to new_size does not fit.
  absl::Status CheckCapacity(std::string_view path, uint64_t old_size, uint64_t new_size) const;
  uint64_t AllocatedBytes(uint64_t size_bytes) const;
  // The next number in the global order of pending operations.
  uint64_t NextSequence() { return next_sequence_++; }

 private:
  struct Lookup {
    uint64_t parent = 0;  // inode of the parent directory
    std::string name;     // last component ("" for the root)
    uint64_t inode = 0;   // 0 if missing
  };
  // A pending operation by where it lives: namespace log index, or a file's
  // unsynced log entry.
  struct PendingRef {
    uint64_t sequence = 0;
    bool is_namespace = false;
    size_t index = 0;    // namespace log index, or index in the file's unsynced log
    uint64_t inode = 0;  // the file (data operations)
  };
  // What a power loss leaves of one file.
  struct FileOutcome {
    std::optional<std::string> image;  // none: the durable image is unchanged
    std::optional<FaultClass> fault;
    std::string detail;
  };

  absl::StatusOr<Lookup> Resolve(std::string_view path) const;
  absl::StatusOr<uint64_t> ResolveDirectory(std::string_view path) const;
  uint64_t NewInode(bool directory);
  // Applies nothing: records an operation already applied to live entries.
  void LogNamespace(NamespaceOp op);
  std::vector<PendingRef> PendingRefs() const;
  // Files moved by a kept rename -> how many of their unsynced writes
  // precede the last such rename (auto_da_alloc).
  std::map<uint64_t, size_t> WritesBeforeKeptRenames(const std::vector<bool>& keep_namespace) const;
  void ApplyPowerLoss(CrashModel model, DecisionSource& decisions);
  // Applies a decided power loss: kept namespace operations, each file's
  // outcome (files without one fall back to their durable image), drops
  // unreachable inodes and reports the injections.
  void ApplyDecidedPowerLoss(const std::vector<bool>& keep_namespace, std::map<uint64_t, FileOutcome> outcomes);
  void CollectReachable(uint64_t inode, std::vector<uint64_t>& reachable) const;
  // The first path (in sorted order) of each inode reachable through live
  // entries (or, with durable, through durable entries).
  std::map<uint64_t, std::string> PathsOfInodes(bool durable) const;
  std::string PathOfInode(uint64_t inode, const std::map<uint64_t, std::string>& live,
                          const std::map<uint64_t, std::string>& durable) const;
  void DumpDirectory(uint64_t inode, const std::string& prefix, std::string& out,
                     std::vector<uint64_t>& visiting) const;
  void Report(FaultClass fault, std::string path, std::string detail);

  std::map<uint64_t, std::unique_ptr<Inode>> inodes_;
  // Every byte FlipStoredBit flipped, with the value it flipped it to.
  struct Rot {
    uint64_t inode = 0;
    uint64_t byte = 0;
    char rotten = 0;
  };
  std::vector<Rot> rots_;
  std::unique_ptr<NamespaceLog> namespace_log_;
  uint64_t next_inode_ = 2;  // 1 is the root
  uint64_t next_sequence_ = 1;
  uint64_t next_rename_ = 1;
  uint64_t generation_ = 0;
  uint64_t capacity_bytes_ = 0;
  uint64_t allocation_unit_bytes_ = 0;
  DirectoryModel directory_model_ = DirectoryModel::kPerEntry;
  InjectionSink injection_sink_;
};

}  // namespace sim
