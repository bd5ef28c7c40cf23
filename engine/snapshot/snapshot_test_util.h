// Helpers shared by the snapshot tests (partial and collection snapshots,
// restore): a simulated world per test body, a completed write, a shard's
// points, an archive re-packed past the integrity checks.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/archive/snapshot_archive.h"
#include "engine/common/file_util.h"
#include "engine/shard/local_shard.h"
#include "engine/shard/world_test_util.h"
#include "sim/world.h"

namespace engine::testing {

inline const ShardOptions kOptions{.collection = kCollection};

// A completed (wait=true) upsert of point `id` carrying `value`.
inline void Write(LocalShard& shard, PointId id, int64_t value) {
  auto result = shard.Update(
      {UpsertPoints{{{id, {1, float(value)}, Payload{{"value", value}}}}}, std::nullopt}, true);
  ASSERT_TRUE(result.ok()) << result.status();
}

inline std::vector<Point> PointsOf(LocalShard& shard) { return shard.Scroll(nullptr, std::nullopt, SIZE_MAX); }

// Re-packs `archive`'s entries, changed by `edit`, with a fresh manifest.json
// and checksum: hostile archives that pass the integrity checks.
inline void Repack(FileSystem& fs, const std::string& archive, const std::string& out,
                   const std::function<void(std::vector<TarEntry>&)>& edit) {
  auto entries = ReadTar(*ReadWholeFile(fs, archive), {});
  ASSERT_TRUE(entries.ok());
  std::erase_if(*entries, [](const TarEntry& e) { return e.path == "manifest.json"; });
  edit(*entries);
  auto pending = PendingArchive::Open(fs, out);
  ASSERT_TRUE(pending.ok());
  ArchiveBuilder builder((*pending)->writer());
  for (const TarEntry& entry : *entries) ASSERT_TRUE(builder.Add(entry.path, entry.contents).ok());
  ASSERT_TRUE(builder.WriteManifest().ok());
  ASSERT_TRUE((*pending)->Finish(absl::OkStatus()).ok());
}

// `archive` re-packed into `out` with every segment.json replaced by
// well-formed JSON that is no segment: an archive that passes every check
// and still does not load.
inline void RepackUnloadable(FileSystem& fs, const std::string& archive, const std::string& out) {
  Repack(fs, archive, out, [](std::vector<TarEntry>& entries) {
    int replaced = 0;
    for (TarEntry& entry : entries) {
      if (!entry.path.ends_with("/segment.json")) continue;
      entry.contents = "{}";
      ++replaced;
    }
    ASSERT_GT(replaced, 0);
  });
}

}  // namespace engine::testing
