// What injected faults excuse, and what a correct engine must still do under
// them (docs/faults.md): an error returned is not a bug when a fault was
// injected that can explain it; out of space never stops the shard; a
// failed snapshot leaves no files; a failed restore leaves its target as it
// was (or dirty). Every error the checker sees goes to the fault ledger, so
// the envelope can say which injections were detected.
#include <cstdio>
#include <functional>

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/file_util.h"
#include "properties/run.h"

namespace properties {

namespace {
// Bounds the digest walk of a hostile tree.
constexpr int kMaxDigestDepth = 64;
}  // namespace

void Run::NoteError(const absl::Status& status) {
  if (!status.ok()) ledger_.NoteError(TraceStep(), status.ToString());
}

void Run::FailUnlessFaulty(const char* what, const absl::Status& status, uint64_t since_step) {
  NoteError(status);
  if (ledger_.Any(since_step)) return;
  Fail("unexpected-error", fmt::format("{} failed without injected faults: {}", what, status.ToString()));
}

void Run::FailUnlessFaulty(engine::LocalShard& shard, const char* what, const absl::Status& status) {
  // Also the errors of a shard a fault stopped earlier in this process: it
  // refuses writes until it is reloaded.
  FailUnlessFaulty(what, status, process_start_step_);
}

void Run::CheckFaultPolicy(engine::LocalShard& shard) {
  const absl::Status health = shard.health();
  if (health.ok()) return;
  NoteError(health);
  if (absl::IsResourceExhausted(health)) {
    Fail("fault-handling", fmt::format("out of space stopped the shard (it must refuse the write and go on): {}",
                                       health.ToString()));
    return;
  }
  if (!ledger_.Any(process_start_step_)) {
    Fail("unexpected-error", fmt::format("the shard stopped without injected faults: {}", health.ToString()));
  }
}

void Run::CheckNoSnapshotLeftovers(const std::string& path) {
  for (const std::string& leftover : {path, path + ".tmp", path + ".checksum", path + ".checksum.tmp"}) {
    if (Exists(leftover)) {
      Fail("fault-handling", fmt::format("a failed snapshot left {} behind", leftover));
      return;
    }
  }
}

bool Run::Exists(const std::string& path) { return world_.fs().Stat(path).ok(); }

std::string Run::TreeDigest(const std::string& dir) {
  // Read straight from the simulated file system: no faults, no trace steps.
  engine::FileSystem& fs = world_.fs();
  std::string digest;
  const std::function<void(const std::string&, int)> walk = [&](const std::string& path, int depth) {
    SS_ASSERT(depth <= kMaxDigestDepth, "{}: deeper than {}", path, kMaxDigestDepth);
    auto entries = fs.ListDir(path);
    if (!entries.ok()) return;
    for (const engine::DirEntry& entry : *entries) {
      const std::string child = engine::JoinPath(path, entry.name);
      if (entry.kind == engine::EntryKind::kDirectory) {
        digest += fmt::format("d {}\n", child);
        walk(child, depth + 1);
        continue;
      }
      auto contents = engine::ReadWholeFile(fs, child);
      digest += fmt::format("f {} {}\n", child, contents.ok() ? *contents : std::string("(unreadable)"));
    }
  };
  if (!Exists(dir)) return "(missing)";
  walk(dir, 0);
  return digest;
}

}  // namespace properties
