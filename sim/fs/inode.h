// The inode of SimFileSystem (internal to sim/fs).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/fs/log_entry.h"
#include "sim/fs/namespace_log.h"
#include "sim/fs/sim_fs.h"

namespace sim {

// The root directory's inode number.
inline constexpr uint64_t kRootInode = 1;

struct SimFileSystem::Inode {
  bool directory = false;
  // A file: what reads see, what is durable, and the changes in between.
  // durable + unsynced == data, except after DropDirtyPages or a stored-bit
  // flip under an unsynced write.
  std::string data;
  std::string durable;
  std::vector<LogEntry> unsynced;
  // A directory: its entries now, and with only its durable namespace
  // operations applied (the pending ones are in the file system's
  // NamespaceLog). After SyncDir the two are equal.
  DirEntries entries;
  DirEntries durable_entries;
};

}  // namespace sim
