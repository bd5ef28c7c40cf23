// What survives a crash: the crash and directory models of SimFileSystem.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "sim/fs/data_crash.h"
#include "sim/fs/inode.h"
#include "sim/fs/namespace_log.h"
#include "sim/fs/sim_fs.h"

namespace sim {

namespace {


}  // namespace

absl::Status SimFileSystem::Crash(CrashKind kind, CrashModel model, DecisionSource& decisions) {
  ++generation_;  // every open handle belongs to the dead process
  if (kind == CrashKind::kPowerLoss) ApplyPowerLoss(model, decisions);
  return absl::OkStatus();
}

void SimFileSystem::ApplyPowerLoss(CrashModel model, DecisionSource& decisions) {
  std::vector<bool> keep_namespace;
  if (model == CrashModel::kDropAllUnsynced) {
    keep_namespace.assign(namespace_log_->pending().size(), false);
  } else if (directory_model_ == DirectoryModel::kPerEntry) {
    keep_namespace = namespace_log_->DecidePerEntry(decisions);
  } else {
    keep_namespace = namespace_log_->DecideJournalPrefix(decisions);
  }
  std::map<uint64_t, size_t> kept_at_least;
  if (directory_model_ == DirectoryModel::kOrderedJournal) kept_at_least = WritesBeforeKeptRenames(keep_namespace);
  std::map<uint64_t, FileOutcome> outcomes;
  for (const auto& [id, inode] : inodes_) {
    if (inode->directory) continue;
    const auto floor = kept_at_least.find(id);
    DataCrashOutcome outcome = ApplyDataCrashModel(model, inode->durable, inode->unsynced,
                                                   floor == kept_at_least.end() ? 0 : floor->second, decisions);
    // Files the crash left as they were need no outcome (and no copy).
    if (!outcome.image && !outcome.fault) continue;
    outcomes[id] = {std::move(outcome.image), outcome.fault, std::move(outcome.detail)};
  }
  ApplyDecidedPowerLoss(keep_namespace, std::move(outcomes));
}

std::map<uint64_t, size_t> SimFileSystem::WritesBeforeKeptRenames(const std::vector<bool>& keep_namespace) const {
  const std::vector<NamespaceOp>& pending = namespace_log_->pending();
  SS_ASSERT(keep_namespace.size() == pending.size());
  std::map<uint64_t, size_t> kept_at_least;
  for (size_t i = 0; i < pending.size(); ++i) {
    const NamespaceOp& op = pending[i];
    if (!keep_namespace[i] || op.kind != NamespaceOp::Kind::kRenameTo) continue;
    const Inode& moved = *inodes_.at(op.inode);
    if (moved.directory) continue;
    const auto& log = moved.unsynced;
    const size_t before = static_cast<size_t>(
        std::partition_point(log.begin(), log.end(),
                             [&](const LogEntry& entry) { return entry.sequence < op.sequence; }) -
        log.begin());
    kept_at_least[op.inode] = std::max(kept_at_least[op.inode], before);
  }
  return kept_at_least;
}

void SimFileSystem::ApplyDecidedPowerLoss(const std::vector<bool>& keep_namespace,
                                          std::map<uint64_t, FileOutcome> outcomes) {
  const std::vector<NamespaceOp>& pending = namespace_log_->pending();
  SS_ASSERT(keep_namespace.size() == pending.size());
  SS_ASSERT(namespace_log_->CheckKeep(keep_namespace).ok(), "an illegal directory state was decided");
  for (auto& [id, inode] : inodes_) {
    if (inode->directory) inode->entries = inode->durable_entries;
  }
  std::vector<const NamespaceOp*> dropped;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (keep_namespace[i]) {
      NamespaceLog::Apply(pending[i], inodes_.at(pending[i].directory)->entries);
    } else {
      dropped.push_back(&pending[i]);
    }
  }
  for (auto& [id, inode] : inodes_) {
    if (inode->directory) {
      inode->durable_entries = inode->entries;
      continue;
    }
    const auto outcome = outcomes.find(id);
    if (outcome != outcomes.end() && outcome->second.image) inode->durable = *std::move(outcome->second.image);
    // Into data's own buffer: no allocation once a file has its size.
    inode->data.assign(inode->durable);
    inode->unsynced.clear();
  }
  // Inodes no entry reaches are gone.
  std::vector<uint64_t> reachable;
  CollectReachable(kRootInode, reachable);
  std::sort(reachable.begin(), reachable.end());
  for (auto it = inodes_.begin(); it != inodes_.end();) {
    it = std::binary_search(reachable.begin(), reachable.end(), it->first) ? std::next(it)
                                                                          : inodes_.erase(it);
  }
  // Report what was destroyed: dropped directory operations in log order,
  // then the files that survive, by inode.
  for (const NamespaceOp* op : dropped) {
    Report(FaultClass::kDirEntryLoss, op->path, fmt::format("dropped {}", op->Describe()));
  }
  if (injection_sink_) {
    const std::map<uint64_t, std::string> paths = PathsOfInodes(false);
    for (const auto& [id, outcome] : outcomes) {
      const auto path = paths.find(id);
      if (outcome.fault && path != paths.end()) Report(*outcome.fault, path->second, outcome.detail);
    }
  }
  namespace_log_->Clear();
}

void SimFileSystem::CollectReachable(uint64_t inode, std::vector<uint64_t>& reachable) const {
  // Iterative, with a visited check: a power loss may leave a directory
  // under two parents (one half of a cross-directory rename survived).
  std::vector<uint64_t> stack{inode};
  std::set<uint64_t> visited;
  while (!stack.empty()) {
    const uint64_t id = stack.back();
    stack.pop_back();
    if (!visited.insert(id).second) continue;
    reachable.push_back(id);
    const Inode& node = *inodes_.at(id);
    if (!node.directory) continue;
    for (const auto& [name, child] : node.entries) {
      if (inodes_.contains(child)) stack.push_back(child);
    }
  }
}

std::map<uint64_t, std::string> SimFileSystem::PathsOfInodes(bool durable) const {
  std::map<uint64_t, std::string> paths;
  // Breadth-first in sorted name order: each inode gets its shortest, then
  // alphabetically first, path; a directory cycle is walked once.
  std::vector<std::pair<uint64_t, std::string>> level{{kRootInode, ""}};
  while (!level.empty()) {
    std::vector<std::pair<uint64_t, std::string>> next;
    for (const auto& [id, prefix] : level) {
      const Inode& node = *inodes_.at(id);
      for (const auto& [name, child] : durable ? node.durable_entries : node.entries) {
        if (!inodes_.contains(child) || paths.contains(child)) continue;
        std::string path = prefix.empty() ? name : prefix + "/" + name;
        paths.emplace(child, path);
        if (inodes_.at(child)->directory) next.emplace_back(child, std::move(path));
      }
    }
    level = std::move(next);
  }
  return paths;
}

std::string SimFileSystem::PathOfInode(uint64_t inode, const std::map<uint64_t, std::string>& live,
                                       const std::map<uint64_t, std::string>& durable) const {
  if (const auto it = live.find(inode); it != live.end()) return it->second;
  if (const auto it = durable.find(inode); it != durable.end()) return it->second;
  return fmt::format("<inode {}>", inode);
}

void SimFileSystem::Report(FaultClass fault, std::string path, std::string detail) {
  if (injection_sink_) injection_sink_(Injection{.fault = fault, .path = std::move(path), .detail = std::move(detail)});
}

std::string SimFileSystem::DumpTree() const {
  std::string out;
  std::vector<uint64_t> visiting;
  DumpDirectory(kRootInode, "", out, visiting);
  return out;
}

void SimFileSystem::DumpDirectory(uint64_t inode, const std::string& prefix, std::string& out,
                                  std::vector<uint64_t>& visiting) const {
  visiting.push_back(inode);
  for (const auto& [name, child] : inodes_.at(inode)->entries) {
    const Inode& node = *inodes_.at(child);
    const std::string path = prefix.empty() ? name : prefix + "/" + name;
    if (!node.directory) {
      out += fmt::format("{} {} bytes ({} unsynced writes)\n", path, node.data.size(), node.unsynced.size());
    } else if (std::find(visiting.begin(), visiting.end(), child) != visiting.end()) {
      out += fmt::format("{}/ (a cycle back to an ancestor)\n", path);
    } else {
      out += fmt::format("{}/\n", path);
      DumpDirectory(child, path, out, visiting);
    }
  }
  visiting.pop_back();
}

}  // namespace sim
