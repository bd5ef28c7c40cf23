#include "sim/fs/sim_fs.h"

#include "sim/fs/inode.h"
#include "sim/fs/namespace_log.h"

#include <algorithm>
#include <bit>
#include <set>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace sim {

namespace {

constexpr int kMaxDepth = 256;
constexpr uint64_t kMaxFileBytes = uint64_t{1} << 34;

absl::Status InvalidPath(std::string_view path, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("path '{}': {}", path, why));
}

}  // namespace

namespace {

class SimFile final : public engine::File {
 public:
  SimFile(SimFileSystem& fs, uint64_t inode, uint64_t generation, bool writable, std::string path)
      : fs_(fs), inode_(inode), generation_(generation), writable_(writable), path_(std::move(path)) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    auto inode = Get();
    if (!inode.ok()) return inode.status();
    const std::string& data = (*inode)->data;
    if (offset >= data.size()) return size_t{0};
    const size_t count = std::min<uint64_t>(out.size(), data.size() - offset);
    std::copy_n(data.data() + offset, count, out.data());
    return count;
  }

  absl::Status WriteAt(uint64_t offset, std::span<const char> bytes) override {
    auto inode = GetWritable();
    if (!inode.ok()) return inode.status();
    if (offset + bytes.size() > kMaxFileBytes) return absl::InvalidArgumentError("file too large");
    const uint64_t new_size = std::max<uint64_t>((*inode)->data.size(), offset + bytes.size());
    if (auto status = fs_.CheckCapacity(path_, (*inode)->data.size(), new_size); !status.ok()) {
      return status;
    }
    LogEntry entry{false, offset, std::string(bytes.data(), bytes.size()), fs_.NextSequence()};
    ApplyLogEntry((*inode)->data, entry);
    (*inode)->unsynced.push_back(std::move(entry));
    return absl::OkStatus();
  }

  absl::Status Append(std::span<const char> bytes) override {
    auto inode = Get();
    if (!inode.ok()) return inode.status();
    return WriteAt((*inode)->data.size(), bytes);
  }

  absl::StatusOr<uint64_t> Size() override {
    auto inode = Get();
    if (!inode.ok()) return inode.status();
    return (*inode)->data.size();
  }

  absl::Status Truncate(uint64_t size_bytes) override {
    auto inode = GetWritable();
    if (!inode.ok()) return inode.status();
    if (size_bytes > kMaxFileBytes) return absl::InvalidArgumentError("file too large");
    if (auto status = fs_.CheckCapacity(path_, (*inode)->data.size(), size_bytes); !status.ok()) {
      return status;
    }
    LogEntry entry{true, size_bytes, {}, fs_.NextSequence()};
    ApplyLogEntry((*inode)->data, entry);
    (*inode)->unsynced.push_back(std::move(entry));
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    auto inode = Get();
    if (!inode.ok()) return inode.status();
    for (const LogEntry& entry : (*inode)->unsynced) ApplyLogEntry((*inode)->durable, entry);
    (*inode)->unsynced.clear();
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<SimFileSystem::Inode*> Get() {
    if (generation_ != fs_.generation()) {
      return absl::UnavailableError(fmt::format("{}: handle from before a crash", path_));
    }
    SimFileSystem::Inode* inode = fs_.FindInode(inode_);
    SS_ASSERT(inode != nullptr, "open handle to a dropped inode {}", inode_);
    return inode;
  }
  absl::StatusOr<SimFileSystem::Inode*> GetWritable() {
    if (!writable_) return absl::PermissionDeniedError(fmt::format("{}: opened read-only", path_));
    return Get();
  }

  SimFileSystem& fs_;
  uint64_t inode_;
  uint64_t generation_;
  bool writable_;
  std::string path_;
};

}  // namespace

SimFileSystem::SimFileSystem() : namespace_log_(std::make_unique<NamespaceLog>()) {
  inodes_[kRootInode] = std::make_unique<Inode>();
  inodes_[kRootInode]->directory = true;
}

SimFileSystem::~SimFileSystem() = default;

SimFileSystem::Inode* SimFileSystem::FindInode(uint64_t id) {
  const auto it = inodes_.find(id);
  return it == inodes_.end() ? nullptr : it->second.get();
}

void SimFileSystem::set_allocation_unit_bytes(uint64_t unit_bytes) {
  SS_ASSERT(unit_bytes == 0 || std::has_single_bit(unit_bytes), "allocation unit {} is not a power of two",
            unit_bytes);
  allocation_unit_bytes_ = unit_bytes;
}

uint64_t SimFileSystem::AllocatedBytes(uint64_t size_bytes) const {
  if (allocation_unit_bytes_ <= 1) return size_bytes;
  const uint64_t mask = allocation_unit_bytes_ - 1;
  return (size_bytes + mask) & ~mask;
}

uint64_t SimFileSystem::total_bytes() const {
  uint64_t total = 0;
  for (const auto& [id, inode] : inodes_) total += AllocatedBytes(inode->data.size());
  return total;
}

absl::Status SimFileSystem::CheckCapacity(std::string_view path, uint64_t old_size,
                                          uint64_t new_size) const {
  if (capacity_bytes_ == 0 || new_size <= old_size) return absl::OkStatus();
  const uint64_t growth_bytes = AllocatedBytes(new_size) - AllocatedBytes(old_size);
  if (growth_bytes > 0 && total_bytes() + growth_bytes > capacity_bytes_) {
    return absl::ResourceExhaustedError(
        fmt::format("ENOSPC writing {}: {} more bytes do not fit in {} bytes", path,
                    growth_bytes, capacity_bytes_));
  }
  return absl::OkStatus();
}

void SimFileSystem::LogNamespace(NamespaceOp op) {
  op.sequence = NextSequence();
  namespace_log_->Append(std::move(op));
}

uint64_t SimFileSystem::NewInode(bool directory) {
  const uint64_t id = next_inode_++;
  inodes_[id] = std::make_unique<Inode>();
  inodes_[id]->directory = directory;
  return id;
}

absl::StatusOr<SimFileSystem::Lookup> SimFileSystem::Resolve(std::string_view path) const {
  Lookup lookup{0, "", kRootInode};
  if (path.empty()) return lookup;
  size_t start = 0;
  for (int depth = 0;; ++depth) {
    if (depth > kMaxDepth) return InvalidPath(path, "too deep");
    const size_t slash = path.find('/', start);
    const std::string_view component =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (component.empty() || component == "." || component == "..") {
      return InvalidPath(path, "empty, '.' or '..' component");
    }
    if (lookup.inode == 0) return absl::NotFoundError(fmt::format("{}: no such directory", path));
    const Inode& parent = *inodes_.at(lookup.inode);
    if (!parent.directory) {
      return absl::FailedPreconditionError(fmt::format("{}: a component is not a directory", path));
    }
    lookup.parent = lookup.inode;
    const auto it = parent.entries.find(component);
    lookup.inode = it == parent.entries.end() ? 0 : it->second;
    if (slash == std::string_view::npos) {
      // Only the last component's name is returned: built once, not per
      // component (this runs on every file-system call).
      lookup.name = std::string(component);
      return lookup;
    }
    start = slash + 1;
  }
}

absl::StatusOr<uint64_t> SimFileSystem::ResolveDirectory(std::string_view path) const {
  auto lookup = Resolve(path);
  if (!lookup.ok()) return lookup.status();
  if (lookup->inode == 0) return absl::NotFoundError(fmt::format("{}: no such directory", path));
  if (!inodes_.at(lookup->inode)->directory) {
    return absl::FailedPreconditionError(fmt::format("{}: not a directory", path));
  }
  return lookup->inode;
}

absl::StatusOr<std::unique_ptr<engine::File>> SimFileSystem::Open(std::string_view path,
                                                                  engine::OpenMode mode) {
  using engine::OpenMode;
  auto lookup = Resolve(path);
  if (!lookup.ok()) return lookup.status();
  if (lookup->parent == 0) return InvalidPath(path, "the root is not a file");
  const bool creates = mode == OpenMode::kCreate || mode == OpenMode::kCreateTruncate ||
                       mode == OpenMode::kCreateExclusive;
  if (lookup->inode == 0) {
    if (!creates) return absl::NotFoundError(fmt::format("open {}: no such file", path));
    lookup->inode = NewInode(false);
    inodes_.at(lookup->parent)->entries[lookup->name] = lookup->inode;
    LogNamespace({.kind = NamespaceOp::Kind::kCreate, .directory = lookup->parent, .name = lookup->name,
                  .inode = lookup->inode, .path = std::string(path)});
  } else if (mode == OpenMode::kCreateExclusive) {
    return absl::AlreadyExistsError(fmt::format("open {}: exists", path));
  }
  Inode& inode = *inodes_.at(lookup->inode);
  if (inode.directory) return absl::FailedPreconditionError(fmt::format("open {}: a directory", path));
  auto file = std::make_unique<SimFile>(*this, lookup->inode, generation_, mode != OpenMode::kRead,
                                        std::string(path));
  if (mode == OpenMode::kCreateTruncate && !inode.data.empty()) {
    if (auto status = file->Truncate(0); !status.ok()) return status;
  }
  return file;
}

absl::Status SimFileSystem::Mkdir(std::string_view path) {
  auto lookup = Resolve(path);
  if (!lookup.ok()) return lookup.status();
  if (lookup->parent == 0 || lookup->inode != 0) {
    return absl::AlreadyExistsError(fmt::format("mkdir {}: exists", path));
  }
  const uint64_t directory = NewInode(true);
  inodes_.at(lookup->parent)->entries[lookup->name] = directory;
  LogNamespace({.kind = NamespaceOp::Kind::kMkdir, .directory = lookup->parent, .name = lookup->name,
                .inode = directory, .path = std::string(path)});
  return absl::OkStatus();
}

absl::Status SimFileSystem::Rmdir(std::string_view path) {
  auto lookup = Resolve(path);
  if (!lookup.ok()) return lookup.status();
  if (lookup->parent == 0) return InvalidPath(path, "cannot remove the root");
  if (lookup->inode == 0) return absl::NotFoundError(fmt::format("rmdir {}: missing", path));
  const Inode& inode = *inodes_.at(lookup->inode);
  if (!inode.directory) return absl::FailedPreconditionError(fmt::format("rmdir {}: a file", path));
  if (!inode.entries.empty()) {
    return absl::FailedPreconditionError(fmt::format("rmdir {}: not empty", path));
  }
  inodes_.at(lookup->parent)->entries.erase(lookup->name);
  LogNamespace({.kind = NamespaceOp::Kind::kRmdir, .directory = lookup->parent, .name = lookup->name,
                .path = std::string(path)});
  return absl::OkStatus();
}

absl::Status SimFileSystem::Unlink(std::string_view path) {
  auto lookup = Resolve(path);
  if (!lookup.ok()) return lookup.status();
  if (lookup->parent == 0 || lookup->inode == 0) {
    return absl::NotFoundError(fmt::format("unlink {}: missing", path));
  }
  if (inodes_.at(lookup->inode)->directory) {
    return absl::FailedPreconditionError(fmt::format("unlink {}: a directory", path));
  }
  inodes_.at(lookup->parent)->entries.erase(lookup->name);
  LogNamespace({.kind = NamespaceOp::Kind::kUnlink, .directory = lookup->parent, .name = lookup->name,
                .path = std::string(path)});
  return absl::OkStatus();
}

absl::Status SimFileSystem::Rename(std::string_view from, std::string_view to) {
  auto source = Resolve(from);
  if (!source.ok()) return source.status();
  auto target = Resolve(to);
  if (!target.ok()) return target.status();
  if (source->parent == 0 || target->parent == 0) return InvalidPath(from, "cannot rename the root");
  if (source->inode == 0) return absl::NotFoundError(fmt::format("rename {}: missing", from));
  const bool moving_directory = inodes_.at(source->inode)->directory;
  if (moving_directory && (to == from || (to.size() > from.size() && to.substr(0, from.size()) == from &&
                                          to[from.size()] == '/'))) {
    return InvalidPath(to, "a directory cannot move inside itself");
  }
  if (target->inode != 0 && target->inode != source->inode) {
    const Inode& existing = *inodes_.at(target->inode);
    if (existing.directory != moving_directory) {
      return absl::FailedPreconditionError(fmt::format("rename {} -> {}: kinds differ", from, to));
    }
    if (existing.directory && !existing.entries.empty()) {
      return absl::FailedPreconditionError(fmt::format("rename {} -> {}: target not empty", from, to));
    }
  }
  // Renaming an entry onto itself changes nothing and logs nothing.
  if (source->parent == target->parent && source->name == target->name) return absl::OkStatus();
  inodes_.at(source->parent)->entries.erase(source->name);
  inodes_.at(target->parent)->entries[target->name] = source->inode;
  const uint64_t rename = next_rename_++;
  LogNamespace({.kind = NamespaceOp::Kind::kRenameFrom, .directory = source->parent, .name = source->name,
                .rename = rename, .path = std::string(from), .other_path = std::string(to)});
  LogNamespace({.kind = NamespaceOp::Kind::kRenameTo, .directory = target->parent, .name = target->name,
                .inode = source->inode, .rename = rename, .path = std::string(to),
                .other_path = std::string(from)});
  return absl::OkStatus();
}

absl::Status SimFileSystem::SyncDir(std::string_view path) {
  auto directory = ResolveDirectory(path);
  if (!directory.ok()) return directory.status();
  Inode& inode = *inodes_.at(*directory);
  for (const NamespaceOp& op : namespace_log_->TakeDirectory(*directory)) {
    NamespaceLog::Apply(op, inode.durable_entries);
  }
  // Every change to a directory's entries is logged on it, so replaying
  // them all must reproduce the live entries.
  SS_ASSERT(inode.durable_entries == inode.entries, "directory '{}' durable entries diverged", path);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<engine::DirEntry>> SimFileSystem::ListDir(std::string_view path) {
  auto directory = ResolveDirectory(path);
  if (!directory.ok()) return directory.status();
  std::vector<engine::DirEntry> entries;
  for (const auto& [name, id] : inodes_.at(*directory)->entries) {
    entries.push_back({name, inodes_.at(id)->directory ? engine::EntryKind::kDirectory
                                                       : engine::EntryKind::kFile});
  }
  return entries;
}

absl::StatusOr<engine::EntryKind> SimFileSystem::Stat(std::string_view path) {
  auto lookup = Resolve(path);
  if (!lookup.ok()) return lookup.status();
  if (lookup->inode == 0) return absl::NotFoundError(fmt::format("stat {}: missing", path));
  return inodes_.at(lookup->inode)->directory ? engine::EntryKind::kDirectory
                                              : engine::EntryKind::kFile;
}

void SimFileSystem::DropDirtyPages(std::string_view path) {
  auto lookup = Resolve(path);
  if (!lookup.ok() || lookup->inode == 0) return;
  Inode& inode = *inodes_.at(lookup->inode);
  inode.unsynced.clear();
  // The size is inode metadata, not a dirty page: the file keeps the size
  // reads see and the next sync writes it (an unsynced truncate is not
  // undone; an extension by a lost write persists as zeros). Dropping a
  // truncate too left a later sync's file longer than every read of it
  // (seed 1000908: a WAL whose torn tail the load had cut came back).
  if (inode.data.size() != inode.durable.size()) {
    inode.unsynced.push_back(LogEntry{true, inode.data.size(), {}, NextSequence()});
  }
}

std::vector<SimFileSystem::StoredFile> SimFileSystem::StoredFiles(std::string_view under) const {
  std::vector<StoredFile> files;
  auto top = ResolveDirectory(under);
  if (!top.ok()) return files;
  // Depth-first in name order, so the list comes out sorted by path; a
  // directory already on the way down (a cycle a power loss left) is skipped.
  std::vector<uint64_t> on_path;
  const auto walk = [&](const auto& self, uint64_t directory, const std::string& prefix) -> void {
    on_path.push_back(directory);
    for (const auto& [name, child] : inodes_.at(directory)->entries) {
      const Inode& node = *inodes_.at(child);
      const std::string path = prefix.empty() ? name : prefix + "/" + name;
      if (!node.directory) {
        if (!node.durable.empty()) files.push_back({path, node.durable.size()});
      } else if (std::find(on_path.begin(), on_path.end(), child) == on_path.end()) {
        self(self, child, path);
      }
    }
    on_path.pop_back();
  };
  walk(walk, *top, std::string(under));
  return files;
}

absl::Status SimFileSystem::FlipStoredBit(std::string_view path, uint64_t bit_index) {
  auto lookup = Resolve(path);
  if (!lookup.ok()) return lookup.status();
  if (lookup->inode == 0) return absl::NotFoundError(fmt::format("{}: missing", path));
  Inode& inode = *inodes_.at(lookup->inode);
  if (inode.directory) return absl::FailedPreconditionError(fmt::format("{}: a directory", path));
  const uint64_t byte = bit_index / 8;
  if (byte >= inode.durable.size()) {
    return absl::OutOfRangeError(
        fmt::format("{}: bit {} past the {} durable bytes", path, bit_index, inode.durable.size()));
  }
  const char mask = static_cast<char>(1 << (bit_index % 8));
  inode.durable[byte] = static_cast<char>(inode.durable[byte] ^ mask);
  // The page cache does not hide the rot: it is read back from the disk.
  if (byte < inode.data.size()) inode.data[byte] = static_cast<char>(inode.data[byte] ^ mask);
  rots_.push_back({lookup->inode, byte, inode.durable[byte]});
  return absl::OkStatus();
}

bool SimFileSystem::HoldsRot(std::string_view under) const {
  if (rots_.empty()) return false;
  auto top = ResolveDirectory(under);
  if (!top.ok()) return false;
  std::set<uint64_t> reachable;
  std::vector<uint64_t> pending = {*top};
  while (!pending.empty()) {
    const uint64_t directory = pending.back();
    pending.pop_back();
    for (const auto& [name, child] : inodes_.at(directory)->entries) {
      // A cycle a power loss left is visited once.
      if (reachable.insert(child).second && inodes_.at(child)->directory) pending.push_back(child);
    }
  }
  return std::any_of(rots_.begin(), rots_.end(), [&](const Rot& rot) {
    if (!reachable.contains(rot.inode)) return false;
    const Inode& inode = *inodes_.at(rot.inode);
    return rot.byte < inode.data.size() && inode.data[rot.byte] == rot.rotten;
  });
}

absl::StatusOr<std::string> SimFileSystem::ReadDurable(std::string_view path) const {
  auto lookup = Resolve(path);
  if (!lookup.ok()) return lookup.status();
  if (lookup->inode == 0) return absl::NotFoundError(fmt::format("{}: missing", path));
  return inodes_.at(lookup->inode)->durable;
}

}  // namespace sim
