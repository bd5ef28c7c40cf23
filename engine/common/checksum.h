// CRC32C (Castagnoli) via Boost.CRC, and little-endian fixed-width codecs
// for on-disk records.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <boost/crc.hpp>

#include "engine/common/assert.h"

namespace engine {

// Boost's table-driven CRC32C: the reference, and the fallback on CPUs
// without the SSE4.2 instruction.
using Crc32cTableHasher = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

namespace checksum_internal {

#if defined(__x86_64__)
// The CPU's crc32 instruction computes CRC32C (reflected, no pre- or
// post-inversion): 8 bytes a step instead of Boost's byte-at-a-time table,
// which was a tenth of a restore's time (every segment log and WAL entry
// is checked at load). Compiled for SSE4.2 in this function only, and
// called only where the CPU has it.
__attribute__((target("sse4.2"))) inline uint32_t HardwareCrc32c(uint32_t state, const char* data,
                                                                   size_t size) {
  uint64_t wide = state;
  for (; size >= 8; data += 8, size -= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    wide = __builtin_ia32_crc32di(wide, word);
  }
  uint32_t narrow = static_cast<uint32_t>(wide);
  for (; size > 0; ++data, --size) narrow = __builtin_ia32_crc32qi(narrow, static_cast<unsigned char>(*data));
  return narrow;
}
inline bool HasHardwareCrc32c() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#else
inline uint32_t HardwareCrc32c(uint32_t, const char*, size_t) {
  SS_ASSERT(false, "no hardware CRC32C");
  return 0;
}
inline bool HasHardwareCrc32c() { return false; }
#endif

}  // namespace checksum_internal

// Incremental: process_bytes over consecutive pieces, then checksum(), equals
// Crc32c of their concatenation (seed 0). The same values as
// Crc32cTableHasher (checksum_test), faster where the CPU helps.
class Crc32cHasher {
 public:
  void process_bytes(const void* data, size_t size) {
    if (!hardware_) {
      table_.process_bytes(data, size);
      return;
    }
    state_ = checksum_internal::HardwareCrc32c(state_, static_cast<const char*>(data), size);
  }
  uint32_t checksum() const { return hardware_ ? ~state_ : table_.checksum(); }

 private:
  bool hardware_ = checksum_internal::HasHardwareCrc32c();
  uint32_t state_ = 0xFFFFFFFF;  // the register, before the final inversion
  Crc32cTableHasher table_;
};

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

// Little-endian: on such a CPU one unaligned load (every WAL record and
// segment log entry is read through these).
inline uint32_t GetFixed32(const char* data) {
  SS_ASSERT(data != nullptr);
  uint32_t value = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&value, data, sizeof(value));
  } else {
    for (int i = 3; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(data[i]);
  }
  return value;
}

inline uint64_t GetFixed64(const char* data) {
  SS_ASSERT(data != nullptr);
  uint64_t value = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&value, data, sizeof(value));
  } else {
    for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(data[i]);
  }
  return value;
}

}  // namespace engine
