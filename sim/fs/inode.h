// The inode of SimFileSystem (internal to sim/fs).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/fs/sim_fs.h"

namespace sim {

// One change to a file since its last sync.
struct LogEntry {
  bool truncate = false;
  uint64_t offset = 0;  // for a truncate: the new size
  std::string bytes;
};

inline void ApplyLogEntry(std::string& image, const LogEntry& entry) {
  if (entry.truncate) {
    image.resize(entry.offset, '\0');
    return;
  }
  const uint64_t end = entry.offset + entry.bytes.size();
  if (image.size() < end) image.resize(end, '\0');
  image.replace(entry.offset, entry.bytes.size(), entry.bytes);
}

struct SimFileSystem::Inode {
  bool directory = false;
  // A file: what reads see, what is durable, and the changes in between.
  // durable + unsynced == data, except after DropDirtyPages.
  std::string data;
  std::string durable;
  std::vector<LogEntry> unsynced;
  // A directory: its entries now, and as of its last SyncDir.
  std::map<std::string, uint64_t> entries;
  std::map<std::string, uint64_t> durable_entries;
};

}  // namespace sim
