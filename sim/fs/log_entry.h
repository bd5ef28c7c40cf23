// One change to a file's contents since its last sync (internal to sim/fs).
#pragma once

#include <algorithm>
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
  // A write past the end leaves a hole of zeros; the bytes themselves are
  // copied once (not zero-filled first: most writes are appends).
  if (image.size() < entry.offset) image.resize(entry.offset, '\0');
  const size_t overwritten = std::min<size_t>(entry.bytes.size(), image.size() - entry.offset);
  image.replace(entry.offset, overwritten, entry.bytes);
}

}  // namespace sim
