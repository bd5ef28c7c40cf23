// The pending namespace operations of SimFileSystem (internal to sim/fs):
// every create, mkdir, unlink, rmdir and rename since the directory it
// changes was last synced, in the one global order they happened.
//
// A rename is logged as two halves, an unlink from the source directory and
// a link into the target directory, adjacent and sharing a rename id. While
// both are pending they are decided as one unit; a SyncDir of one side makes
// that half durable and leaves the other to survive or not on its own.
//
// What a power loss may keep (the constraints every decision below honours
// and CheckKeep enforces):
//   (a) per name (directory inode + entry name), the kept operations are a
//       prefix of that name's pending operations;
//   (b) the two pending halves of a rename are kept or dropped together.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sim/decision.h"

namespace sim {

// A directory's entries: name -> inode. std::less<> lets a lookup take a
// string_view (path resolution runs on every file-system call).
using DirEntries = std::map<std::string, uint64_t, std::less<>>;

struct NamespaceOp {
  enum class Kind : uint8_t { kCreate, kMkdir, kUnlink, kRmdir, kRenameFrom, kRenameTo };
  Kind kind = Kind::kCreate;
  uint64_t sequence = 0;   // global order (shared with file data writes)
  uint64_t directory = 0;  // inode of the directory the entry is in
  std::string name;        // the entry's name in it
  uint64_t inode = 0;      // the inode a create, mkdir or rename-to binds; 0 for removals
  uint64_t rename = 0;     // shared by the two halves of one rename; 0 otherwise
  std::string path;        // the entry's full path at the time of the call
  std::string other_path;  // a rename half: the other side's path

  // True if the operation binds the name (create, mkdir, rename-to).
  bool Binds() const { return kind == Kind::kCreate || kind == Kind::kMkdir || kind == Kind::kRenameTo; }
  // "create shard/a", "rename shard/a -> shard/b (unlink half)".
  std::string Describe() const;
};

class NamespaceLog {
 public:
  // REQUIRES: op.sequence greater than every logged sequence.
  void Append(NamespaceOp op);
  // Removes and returns the pending operations of `directory`, oldest first
  // (what SyncDir makes durable).
  std::vector<NamespaceOp> TakeDirectory(uint64_t directory);
  void Clear() {
    pending_.clear();
    pending_per_directory_.clear();
  }
  const std::vector<NamespaceOp>& pending() const { return pending_; }

  // The other half of pending_[index] when both halves of its rename are pending.
  std::optional<size_t> Partner(size_t index) const;

  // InvalidArgument naming the first violated constraint, (a) or (b).
  // REQUIRES: keep.size() == pending().size().
  absl::Status CheckKeep(const std::vector<bool>& keep) const;

  // Strict POSIX: in log order, each unit (an operation, or both pending
  // halves of a rename) is kept or dropped by one draw, unless a name it
  // touches already lost an earlier operation: then it is dropped without
  // a draw. Zero draws mean "dropped" (a tape of zeros is the harshest).
  std::vector<bool> DecidePerEntry(DecisionSource& decisions) const;
  // A journal: one drawn cut point between units; everything before it is
  // kept, everything after it dropped.
  std::vector<bool> DecideJournalPrefix(DecisionSource& decisions) const;

  // Applies one operation to a directory's entries.
  static void Apply(const NamespaceOp& op, DirEntries& entries);

 private:
  std::vector<NamespaceOp> pending_;
  // Each directory's operations in pending_ (none: no entry): how many, and
  // the sequence of the oldest, where TakeDirectory starts (pending_ is in
  // sequence order), so a sync does not cost the operations before it.
  struct DirectoryPending {
    size_t count = 0;
    uint64_t first_sequence = 0;
  };
  std::map<uint64_t, DirectoryPending> pending_per_directory_;
};

}  // namespace sim
