// One change to a file's contents since its last sync (internal to sim/fs).
#pragma once

#include <cstdint>
#include <string>

namespace sim {

struct LogEntry {
  bool truncate = false;
  uint64_t offset = 0;  // for a truncate: the new size
  std::string bytes;
  // Global order of every pending operation (file data and namespace), so
  // a power loss can relate a file's writes to a rename of that file.
  uint64_t sequence = 0;
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

}  // namespace sim
