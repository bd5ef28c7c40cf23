#include "sim/fs/namespace_log.h"

#include <algorithm>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace sim {

namespace {

using NameKey = std::pair<uint64_t, std::string>;

NameKey KeyOf(const NamespaceOp& op) { return {op.directory, op.name}; }

}  // namespace

std::string NamespaceOp::Describe() const {
  switch (kind) {
    case Kind::kCreate: return fmt::format("create {}", path);
    case Kind::kMkdir: return fmt::format("mkdir {}", path);
    case Kind::kUnlink: return fmt::format("unlink {}", path);
    case Kind::kRmdir: return fmt::format("rmdir {}", path);
    case Kind::kRenameFrom: return fmt::format("rename {} -> {} (unlink half)", path, other_path);
    case Kind::kRenameTo: return fmt::format("rename {} -> {} (link half)", other_path, path);
  }
  return "?";
}

void NamespaceLog::Append(NamespaceOp op) {
  SS_ASSERT(pending_.empty() || pending_.back().sequence < op.sequence,
            "namespace operations are logged in order");
  DirectoryPending& directory = pending_per_directory_[op.directory];
  if (directory.count++ == 0) directory.first_sequence = op.sequence;
  pending_.push_back(std::move(op));
}

std::vector<NamespaceOp> NamespaceLog::TakeDirectory(uint64_t directory) {
  std::vector<NamespaceOp> taken;
  const auto pending = pending_per_directory_.find(directory);
  // The log only grows between crashes (a removed directory's operations
  // stay until then), so a sync must not cost the whole log: most syncs
  // find nothing, or their own operations near the end.
  if (pending == pending_per_directory_.end()) return taken;
  taken.reserve(pending->second.count);
  // Operations leave the log only here (their own directory's all at once)
  // or at Clear, so the directory's oldest is still in it.
  const auto first = std::lower_bound(
      pending_.begin(), pending_.end(), pending->second.first_sequence,
      [](const NamespaceOp& op, uint64_t sequence) { return op.sequence < sequence; });
  SS_ASSERT(first != pending_.end() && first->directory == directory &&
                first->sequence == pending->second.first_sequence,
            "the oldest pending operation of directory {} is not in the log", directory);
  // Stable in place: the kept operations keep their order and only those
  // after the first taken one move.
  size_t write = static_cast<size_t>(first - pending_.begin());
  for (size_t read = write; read < pending_.size(); ++read) {
    if (pending_[read].directory == directory) {
      taken.push_back(std::move(pending_[read]));
    } else {
      if (write != read) pending_[write] = std::move(pending_[read]);
      ++write;
    }
  }
  pending_.resize(write);
  SS_ASSERT(taken.size() == pending->second.count, "{} operations of directory {} taken, {} counted",
            taken.size(), directory, pending->second.count);
  pending_per_directory_.erase(pending);
  return taken;
}

std::optional<size_t> NamespaceLog::Partner(size_t index) const {
  SS_ASSERT(index < pending_.size());
  const uint64_t rename = pending_[index].rename;
  if (rename == 0) return std::nullopt;
  // The halves were appended together and removals keep the order, so a
  // pending partner is a neighbour.
  if (index > 0 && pending_[index - 1].rename == rename) return index - 1;
  if (index + 1 < pending_.size() && pending_[index + 1].rename == rename) return index + 1;
  return std::nullopt;
}

absl::Status NamespaceLog::CheckKeep(const std::vector<bool>& keep) const {
  SS_ASSERT(keep.size() == pending_.size(), "{} decisions for {} operations", keep.size(),
            pending_.size());
  std::map<NameKey, size_t> first_dropped;
  for (size_t i = 0; i < pending_.size(); ++i) {
    const NamespaceOp& op = pending_[i];
    if (const auto partner = Partner(i); partner && keep[*partner] != keep[i]) {
      return absl::InvalidArgumentError(fmt::format(
          "'{}' is {} but the other half of its rename is not", op.Describe(), keep[i] ? "kept" : "dropped"));
    }
    const auto dropped = first_dropped.find(KeyOf(op));
    if (!keep[i]) {
      if (dropped == first_dropped.end()) first_dropped.emplace(KeyOf(op), i);
    } else if (dropped != first_dropped.end()) {
      return absl::InvalidArgumentError(fmt::format("'{}' is kept after the earlier '{}' on the same name was dropped",
                                                    op.Describe(), pending_[dropped->second].Describe()));
    }
  }
  return absl::OkStatus();
}

std::vector<bool> NamespaceLog::DecidePerEntry(DecisionSource& decisions) const {
  std::vector<bool> keep(pending_.size(), false);
  std::set<NameKey> closed;  // names that already lost an operation
  for (size_t i = 0; i < pending_.size(); ++i) {
    const std::optional<size_t> partner = Partner(i);
    if (partner && *partner < i) continue;  // decided with its first half
    const bool forced_drop = closed.contains(KeyOf(pending_[i])) ||
                             (partner && closed.contains(KeyOf(pending_[*partner])));
    const bool kept = !forced_drop && decisions.Draw(2) == 1;
    keep[i] = kept;
    if (partner) keep[*partner] = kept;
    if (!kept) {
      closed.insert(KeyOf(pending_[i]));
      if (partner) closed.insert(KeyOf(pending_[*partner]));
    }
  }
  SS_ASSERT(CheckKeep(keep).ok());
  return keep;
}

std::vector<bool> NamespaceLog::DecideJournalPrefix(DecisionSource& decisions) const {
  std::vector<size_t> unit_starts;
  for (size_t i = 0; i < pending_.size(); ++i) {
    const std::optional<size_t> partner = Partner(i);
    if (!partner || *partner > i) unit_starts.push_back(i);
  }
  const uint64_t kept_units = decisions.Draw(unit_starts.size() + 1);
  const size_t cut = kept_units == unit_starts.size() ? pending_.size() : unit_starts[kept_units];
  std::vector<bool> keep(pending_.size(), false);
  for (size_t i = 0; i < cut; ++i) keep[i] = true;
  SS_ASSERT(CheckKeep(keep).ok());
  return keep;
}

void NamespaceLog::Apply(const NamespaceOp& op, DirEntries& entries) {
  if (op.Binds()) {
    SS_ASSERT(op.inode != 0, "'{}' binds no inode", op.Describe());
    entries[op.name] = op.inode;
  } else {
    entries.erase(op.name);
  }
}

}  // namespace sim
