// Power-loss state enumeration: the pending operations of SimFileSystem and
// a power loss that keeps exactly a chosen subset of them.
#include <algorithm>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "sim/fs/inode.h"
#include "sim/fs/namespace_log.h"
#include "sim/fs/sim_fs.h"

namespace sim {

namespace {

PendingOperation::Kind KindOf(NamespaceOp::Kind kind) {
  switch (kind) {
    case NamespaceOp::Kind::kCreate: return PendingOperation::Kind::kCreate;
    case NamespaceOp::Kind::kMkdir: return PendingOperation::Kind::kMkdir;
    case NamespaceOp::Kind::kUnlink: return PendingOperation::Kind::kUnlink;
    case NamespaceOp::Kind::kRmdir: return PendingOperation::Kind::kRmdir;
    case NamespaceOp::Kind::kRenameFrom: return PendingOperation::Kind::kRenameFrom;
    case NamespaceOp::Kind::kRenameTo: return PendingOperation::Kind::kRenameTo;
  }
  SS_ASSERT(false, "unknown namespace operation");
  return PendingOperation::Kind::kCreate;
}

}  // namespace

std::vector<SimFileSystem::PendingRef> SimFileSystem::PendingRefs() const {
  std::vector<PendingRef> refs;
  const std::vector<NamespaceOp>& pending = namespace_log_->pending();
  for (size_t i = 0; i < pending.size(); ++i) refs.push_back({pending[i].sequence, true, i, 0});
  for (const auto& [id, inode] : inodes_) {
    for (size_t i = 0; i < inode->unsynced.size(); ++i) refs.push_back({inode->unsynced[i].sequence, false, i, id});
  }
  std::sort(refs.begin(), refs.end(), [](const PendingRef& a, const PendingRef& b) { return a.sequence < b.sequence; });
  return refs;
}

std::vector<PendingOperation> SimFileSystem::PendingOperations() const {
  const std::vector<PendingRef> refs = PendingRefs();
  const std::map<uint64_t, std::string> live_paths = PathsOfInodes(false);
  const std::map<uint64_t, std::string> durable_paths = PathsOfInodes(true);
  const std::vector<NamespaceOp>& pending = namespace_log_->pending();
  std::map<size_t, size_t> position_of_namespace_op;  // namespace log index -> position in refs
  for (size_t position = 0; position < refs.size(); ++position) {
    if (refs[position].is_namespace) position_of_namespace_op[refs[position].index] = position;
  }
  std::vector<PendingOperation> operations;
  operations.reserve(refs.size());
  for (const PendingRef& ref : refs) {
    PendingOperation operation;
    if (ref.is_namespace) {
      const NamespaceOp& op = pending[ref.index];
      operation.kind = KindOf(op.kind);
      operation.path = op.path;
      operation.description = op.Describe();
      operation.inode = op.inode;
      operation.directory = op.directory;
      operation.name = op.name;
      if (const auto partner = namespace_log_->Partner(ref.index)) {
        operation.partner = position_of_namespace_op.at(*partner);
      }
    } else {
      const LogEntry& entry = inodes_.at(ref.inode)->unsynced[ref.index];
      operation.kind = entry.truncate ? PendingOperation::Kind::kTruncate : PendingOperation::Kind::kWrite;
      operation.path = PathOfInode(ref.inode, live_paths, durable_paths);
      operation.description =
          entry.truncate ? fmt::format("truncate {} to {} bytes", operation.path, entry.offset)
                         : fmt::format("write {} bytes at {} to {}", entry.bytes.size(), entry.offset, operation.path);
      operation.inode = ref.inode;
    }
    operations.push_back(std::move(operation));
  }
  return operations;
}

absl::Status SimFileSystem::PowerLossKeeping(const std::vector<bool>& keep) {
  const std::vector<PendingRef> refs = PendingRefs();
  if (keep.size() != refs.size()) {
    return absl::InvalidArgumentError(
        fmt::format("{} keep decisions for {} pending operations", keep.size(), refs.size()));
  }
  std::vector<bool> keep_namespace(namespace_log_->pending().size(), false);
  std::map<uint64_t, std::vector<bool>> keep_writes;  // file -> per unsynced log entry
  for (size_t position = 0; position < refs.size(); ++position) {
    const PendingRef& ref = refs[position];
    if (ref.is_namespace) {
      keep_namespace[ref.index] = keep[position];
      continue;
    }
    std::vector<bool>& file = keep_writes[ref.inode];
    file.resize(inodes_.at(ref.inode)->unsynced.size(), false);
    file[ref.index] = keep[position];
  }
  if (auto status = namespace_log_->CheckKeep(keep_namespace); !status.ok()) return status;
  std::map<uint64_t, FileOutcome> outcomes;
  for (const auto& [id, kept] : keep_writes) {
    const Inode& inode = *inodes_.at(id);
    FileOutcome outcome{std::nullopt, std::nullopt, {}};
    size_t kept_count = 0;
    for (size_t i = 0; i < kept.size(); ++i) {
      if (!kept[i]) continue;
      if (!outcome.image) outcome.image = inode.durable;
      ApplyLogEntry(*outcome.image, inode.unsynced[i]);
      ++kept_count;
    }
    if (kept_count < kept.size()) {
      outcome.fault = FaultClass::kLostUnsynced;
      outcome.detail = fmt::format("kept {} of {} unsynced writes", kept_count, kept.size());
    }
    outcomes.emplace(id, std::move(outcome));
  }
  ++generation_;  // a power loss: every open handle is dead
  ApplyDecidedPowerLoss(keep_namespace, std::move(outcomes));
  return absl::OkStatus();
}

}  // namespace sim
