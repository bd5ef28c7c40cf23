#include "properties/fuzz_input.h"

#include <algorithm>

namespace properties {

FuzzInput DecodeFuzzInput(std::span<const uint8_t> bytes) {
  constexpr size_t kSeedBytes = 8;
  uint64_t seed = 0;
  for (size_t index = 0; index < std::min(kSeedBytes, bytes.size()); ++index) seed = (seed << 8) | bytes[index];
  FuzzInput input;
  input.config = ShardRunConfig::Draw(seed);
  // A fuzz input is a short run: libFuzzer wants hundreds of runs a second,
  // and a bug that needs a long run is the campaign's to find. The mix keeps
  // its other draws, the caps only shorten it (kFuzz* in fuzz_input.h).
  input.config.clients = std::min(input.config.clients, kFuzzMaxClients);
  input.config.ops_per_client = std::min(input.config.ops_per_client, kFuzzMaxOpsPerClient);
  input.config.crashes = std::min(input.config.crashes, kFuzzMaxCrashes);
  if (bytes.size() > kSeedBytes) input.tape.assign(bytes.begin() + kSeedBytes, bytes.end());
  return input;
}

}  // namespace properties
