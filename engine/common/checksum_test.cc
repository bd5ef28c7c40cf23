// Crc32cHasher (the CPU's crc32 instruction where it has one) against
// Boost's table-driven CRC32C, which every stored checksum was made with.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "engine/common/checksum.h"

namespace engine {
namespace {

TEST(Crc32c, KnownValue) {
  // The CRC-32C check value (RFC 3720, B.4).
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(Crc32c, EqualsTheTableInAnyPieces) {
  std::mt19937_64 random(7);
  for (size_t size : {0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4099}) {
    std::string data(size, '\0');
    for (char& c : data) c = static_cast<char>(random());
    Crc32cTableHasher table;
    table.process_bytes(data.data(), data.size());
    // Split at an odd place so that both the 8-byte and the byte loop run
    // from unaligned offsets.
    const size_t cut = size / 3;
    Crc32cHasher hasher;
    hasher.process_bytes(data.data(), cut);
    hasher.process_bytes(data.data() + cut, size - cut);
    EXPECT_EQ(hasher.checksum(), table.checksum()) << "size " << size;
    EXPECT_EQ(Crc32c(data), table.checksum()) << "size " << size;
    EXPECT_EQ(Crc32c(data, 0x12345678), Crc32c(std::string("\x78\x56\x34\x12", 4) + data)) << "size " << size;
  }
}

}  // namespace
}  // namespace engine
