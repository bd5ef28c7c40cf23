#include "properties/fuzz_input.h"

#include <algorithm>

namespace properties {

FuzzInput DecodeFuzzInput(std::span<const uint8_t> bytes) {
  constexpr size_t kSeedBytes = 8;
  uint64_t seed = 0;
  for (size_t index = 0; index < std::min(kSeedBytes, bytes.size()); ++index) seed = (seed << 8) | bytes[index];
  FuzzInput input;
  input.config = ShardRunConfig::Draw(seed);
  // Bounded so that one input runs in milliseconds (libFuzzer wants many).
  input.config.ops_per_client = std::min(input.config.ops_per_client, 12);
  input.config.crashes = std::min(input.config.crashes, 2);
  if (bytes.size() > kSeedBytes) input.tape.assign(bytes.begin() + kSeedBytes, bytes.end());
  return input;
}

}  // namespace properties
