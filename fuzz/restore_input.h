// The fuzz_restore input format, shared by the fuzzer and the corpus
// generator:
//
//   input := flags:u8 archive-bytes
//
// flags bit 0: write a wrong .checksum sidecar (the restore must then fail
// before reading the tar); bit 1: restore over the live shard's own
// directory instead of into a fresh one; bit 2: the structure-aware mutator
// (restore_mutator.h) leaves the manifest's checksums stale (the harness
// itself ignores it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/model/operation.h"
#include "engine/model/types.h"
#include "engine/shard/local_shard.h"

namespace fuzz {

inline constexpr uint8_t kWrongChecksum = 1;
inline constexpr uint8_t kOverLiveShard = 2;
inline constexpr uint8_t kStaleManifest = 4;

// The collection of the live shard and of the corpus's snapshots.
inline engine::ShardOptions RestoreShardOptions() {
  return {.collection = {.dimension = 2, .distance = engine::Distance::kDot}};
}

// A payload index and `count` points (ids from 0, payload values from
// `base`), each op waited for.
inline absl::Status Populate(engine::LocalShard& shard, int count, int64_t base) {
  using namespace engine;
  auto index = shard.Update({CreateFieldIndex{"tag", FieldType::kKeyword}, std::nullopt}, true);
  if (!index.ok()) return index.status();
  for (int i = 0; i < count; ++i) {
    const Point point{PointId(i), {float(i), 1}, Payload{{"value", base + i}, {"tag", i % 2 ? "odd" : "even"}}};
    auto result = shard.Update({UpsertPoints{{point}}, std::nullopt}, true);
    if (!result.ok()) return result.status();
  }
  return absl::OkStatus();
}

inline std::string EncodeRestoreInput(uint8_t flags, std::string_view archive) {
  return std::string(1, static_cast<char>(flags)) + std::string(archive);
}

}  // namespace fuzz
