// CRC32C (Castagnoli) via Boost.CRC, and little-endian fixed-width codecs
// for on-disk records.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <boost/crc.hpp>

#include "engine/common/assert.h"

namespace engine {

// Incremental: process_bytes over consecutive pieces, then checksum(), equals
// Crc32c of their concatenation (seed 0).
using Crc32cHasher = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

inline uint32_t Crc32c(std::string_view data, uint32_t seed_crc = 0) {
  Crc32cHasher crc;
  if (seed_crc != 0) {
    const uint32_t seed_le = seed_crc;
    crc.process_bytes(&seed_le, sizeof seed_le);
  }
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

inline uint32_t GetFixed32(const char* data);
inline uint64_t GetFixed64(const char* data);

inline void PutFixed32(std::string& out, uint32_t value) {
  char bytes[4];
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  out.append(bytes, 4);
  // Encoded then decoded in memory: the same value.
  SS_ASSERT(GetFixed32(out.data() + out.size() - 4) == value);
}

inline void PutFixed64(std::string& out, uint64_t value) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  out.append(bytes, 8);
  SS_ASSERT(GetFixed64(out.data() + out.size() - 8) == value);
}

inline uint32_t GetFixed32(const char* data) {
  SS_ASSERT(data != nullptr);
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(data[i]);
  return value;
}

inline uint64_t GetFixed64(const char* data) {
  SS_ASSERT(data != nullptr);
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(data[i]);
  return value;
}

}  // namespace engine
