// What survives a crash: the crash models of SimFileSystem.
#include <algorithm>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "sim/fs/inode.h"
#include "sim/fs/sim_fs.h"

namespace sim {

namespace {

constexpr uint64_t kRootInode = 1;
constexpr int kMaxDepth = 256;

std::string BlockOf(const std::string& image, uint64_t block, uint64_t size) {
  std::string out(size, '\0');
  const uint64_t start = block * size;
  if (start < image.size()) {
    const uint64_t count = std::min<uint64_t>(size, image.size() - start);
    std::copy_n(image.data() + start, count, out.data());
  }
  return out;
}

}  // namespace

absl::Status SimFileSystem::Crash(CrashKind kind, CrashModel model, DecisionSource& decisions) {
  ++generation_;  // every open handle belongs to the dead process
  if (kind == CrashKind::kPowerLoss) ApplyPowerLoss(model, decisions);
  return absl::OkStatus();
}

void SimFileSystem::ApplyPowerLoss(CrashModel model, DecisionSource& decisions) {
  for (auto& [id, inode] : inodes_) {
    if (inode->directory) {
      inode->entries = inode->durable_entries;
      continue;
    }
    std::string image = inode->durable;
    const auto& log = inode->unsynced;
    switch (model) {
      case CrashModel::kDropAllUnsynced:
        break;
      case CrashModel::kRandomPrefix: {
        const uint64_t kept = decisions.Draw(log.size() + 1);
        for (uint64_t i = 0; i < kept; ++i) ApplyLogEntry(image, log[i]);
        break;
      }
      case CrashModel::kRandomBlocks: {
        std::string full = image;
        for (const auto& entry : log) ApplyLogEntry(full, entry);
        if (full == image) break;
        const uint64_t size = full.size() == image.size() || decisions.Draw(2) == 0
                                  ? full.size() : image.size();
        const uint64_t blocks = (size + kBlockBytes - 1) / kBlockBytes;
        std::string mixed;
        for (uint64_t block = 0; block < blocks; ++block) {
          const std::string old_block = BlockOf(image, block, kBlockBytes);
          const std::string new_block = BlockOf(full, block, kBlockBytes);
          mixed += old_block == new_block || decisions.Draw(2) == 0 ? new_block : old_block;
        }
        mixed.resize(size);
        image = std::move(mixed);
        break;
      }
      case CrashModel::kTornLastBlock: {
        if (log.empty()) break;
        for (size_t i = 0; i + 1 < log.size(); ++i) ApplyLogEntry(image, log[i]);
        auto last = log.back();
        if (last.truncate) {
          if (decisions.Draw(2) == 0) ApplyLogEntry(image, last);
        } else {
          last.bytes.resize(decisions.Draw(last.bytes.size() + 1));
          ApplyLogEntry(image, last);
        }
        break;
      }
    }
    inode->durable = image;
    inode->data = std::move(image);
    inode->unsynced.clear();
  }
  // Inodes no durable entry reaches are gone.
  std::vector<uint64_t> reachable;
  CollectReachable(kRootInode, reachable, 0);
  std::sort(reachable.begin(), reachable.end());
  for (auto it = inodes_.begin(); it != inodes_.end();) {
    it = std::binary_search(reachable.begin(), reachable.end(), it->first) ? std::next(it)
                                                                          : inodes_.erase(it);
  }
}

void SimFileSystem::CollectReachable(uint64_t inode, std::vector<uint64_t>& reachable,
                                     int depth) const {
  SS_ASSERT(depth <= kMaxDepth, "directory tree deeper than {}", kMaxDepth);
  reachable.push_back(inode);
  const Inode& node = *inodes_.at(inode);
  if (!node.directory) return;
  for (const auto& [name, child] : node.entries) {
    if (inodes_.contains(child)) CollectReachable(child, reachable, depth + 1);
  }
}

std::string SimFileSystem::DumpTree() const {
  std::string out;
  DumpDirectory(kRootInode, "", out, 0);
  return out;
}

void SimFileSystem::DumpDirectory(uint64_t inode, const std::string& prefix, std::string& out,
                                  int depth) const {
  SS_ASSERT(depth <= kMaxDepth);
  for (const auto& [name, child] : inodes_.at(inode)->entries) {
    const Inode& node = *inodes_.at(child);
    const std::string path = prefix.empty() ? name : prefix + "/" + name;
    if (node.directory) {
      out += fmt::format("{}/\n", path);
      DumpDirectory(child, path, out, depth + 1);
    } else {
      out += fmt::format("{} {} bytes ({} unsynced writes)\n", path, node.data.size(),
                         node.unsynced.size());
    }
  }
}

}  // namespace sim
