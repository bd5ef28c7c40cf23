// Properties of directory durability at a power loss. Random creates,
// unlinks and renames (within and across three directories) and some
// SyncDirs run against SimFileSystem and a model that keeps, per name, its
// durable binding and its binding after each pending operation. Every file
// holds its own id, synced, so what a name binds to after the crash can be
// read back.
//
// kPerEntry (strict POSIX): every name's binding is its binding after some
// prefix of its pending operations (synced names keep their binding), and a
// rename whose halves were both pending is kept or dropped whole.
// kOrderedJournal (ext4): the whole directory state is the durable state
// plus one global prefix of the pending operations.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "sim/fs/fs_test_util.h"
#include "sim/fs/sim_fs.h"

namespace sim {
namespace {

using fs_test::BuildCrossDirectoryRename;
using fs_test::ReadFile;
using fs_test::WriteFile;
using Key = std::pair<std::string, std::string>;  // directory, name

std::string PathOf(const Key& key) { return key.first.empty() ? key.second : key.first + "/" + key.second; }

struct NameState {
  std::optional<int> durable;
  std::optional<int> live;
  std::vector<std::optional<int>> pending;  // binding after each pending operation
};

// A pending operation in global order: one change, or both halves of a rename.
struct GlobalOp {
  std::vector<std::pair<Key, std::optional<int>>> changes;
};

struct RenameRecord {
  Key from;
  size_t from_position = 0;  // index in the source name's pending list
  Key to;
  size_t to_position = 0;
  bool from_pending = true;
  bool to_pending = true;
};

struct Model {
  std::map<Key, NameState> names;
  std::vector<GlobalOp> journal;
  std::vector<RenameRecord> renames;
  int next_file = 0;
};

const std::vector<std::string> kDirectories{"", "d1", "d2"};
const std::vector<std::string> kNames{"x", "y"};

void Bind(Model& model, const Key& key, std::optional<int> binding, GlobalOp& op) {
  NameState& state = model.names[key];
  state.live = binding;
  state.pending.push_back(binding);
  op.changes.emplace_back(key, binding);
}

void RunNamespaceOperations(SimFileSystem& fs, Model& model) {
  RC_ASSERT(fs.Mkdir("d1").ok());
  RC_ASSERT(fs.Mkdir("d2").ok());
  RC_ASSERT(fs.SyncDir("").ok());
  const int count = *rc::gen::inRange(0, 30);
  for (int i = 0; i < count; ++i) {
    const Key key{*rc::gen::elementOf(kDirectories), *rc::gen::elementOf(kNames)};
    const int kind = *rc::gen::inRange(0, 5);
    NameState& state = model.names[key];
    if (kind == 4) {  // sync this name's directory
      RC_ASSERT(fs.SyncDir(key.first).ok());
      for (auto& [other, other_state] : model.names) {
        if (other.first != key.first) continue;
        other_state.durable = other_state.live;
        other_state.pending.clear();
      }
      std::erase_if(model.journal, [&](GlobalOp& op) {
        std::erase_if(op.changes, [&](const auto& change) { return change.first.first == key.first; });
        return op.changes.empty();
      });
      for (RenameRecord& rename : model.renames) {
        if (rename.from.first == key.first) rename.from_pending = false;
        if (rename.to.first == key.first) rename.to_pending = false;
      }
      continue;
    }
    GlobalOp op;
    if (!state.live) {  // create, with the file's id as its synced contents
      const int id = model.next_file++;
      const std::string contents = std::to_string(id);
      auto file = fs.Open(PathOf(key), engine::OpenMode::kCreateExclusive);
      RC_ASSERT(file.ok());
      RC_ASSERT((*file)->Append(std::span<const char>(contents.data(), contents.size())).ok());
      RC_ASSERT((*file)->Sync().ok());
      Bind(model, key, id, op);
    } else if (kind == 0) {
      RC_ASSERT(fs.Unlink(PathOf(key)).ok());
      Bind(model, key, std::nullopt, op);
    } else {  // rename, perhaps over an existing file
      const Key target{*rc::gen::elementOf(kDirectories), *rc::gen::elementOf(kNames)};
      if (target == key) continue;
      RC_ASSERT(fs.Rename(PathOf(key), PathOf(target)).ok());
      const int id = *state.live;
      RenameRecord rename{.from = key, .to = target};
      rename.from_position = model.names[key].pending.size();
      Bind(model, key, std::nullopt, op);
      rename.to_position = model.names[target].pending.size();
      Bind(model, target, id, op);
      model.renames.push_back(rename);
    }
    model.journal.push_back(std::move(op));
  }
}

// The id a path's file holds after the crash, or nullopt if it is missing.
std::optional<int> Binding(SimFileSystem& fs, const Key& key) {
  auto file = fs.Open(PathOf(key), engine::OpenMode::kRead);
  if (absl::IsNotFound(file.status())) return std::nullopt;
  RC_ASSERT(file.ok());
  std::string contents(*(*file)->Size(), '\0');
  RC_ASSERT(*(*file)->ReadAt(0, std::span<char>(contents.data(), contents.size())) == contents.size());
  RC_ASSERT(!contents.empty());
  return std::stoi(contents);
}

// For each name, the prefix lengths of its pending operations that give
// the binding it has after the crash.
std::map<Key, std::set<size_t>> MatchingPrefixes(SimFileSystem& fs, const Model& model) {
  std::map<Key, std::set<size_t>> matching;
  for (const auto& [key, state] : model.names) {
    const std::optional<int> actual = Binding(fs, key);
    std::set<size_t>& prefixes = matching[key];
    if (state.durable == actual) prefixes.insert(0);
    for (size_t i = 0; i < state.pending.size(); ++i) {
      if (state.pending[i] == actual) prefixes.insert(i + 1);
    }
  }
  return matching;
}

void CheckNoStrangers(SimFileSystem& fs) {
  for (const std::string& directory : kDirectories) {
    auto listing = fs.ListDir(directory);
    RC_ASSERT(listing.ok());  // d1 and d2 were synced into the root
    for (const auto& entry : *listing) {
      const bool known = std::find(kNames.begin(), kNames.end(), entry.name) != kNames.end() ||
                         (directory.empty() && (entry.name == "d1" || entry.name == "d2"));
      RC_ASSERT(known);
    }
  }
}

// Random namespace operations on `fs`, then a power loss drawn from `seed`
// (random prefix) that leaves only known names; returns what the operations
// did.
Model OperationsThenPowerLoss(SimFileSystem& fs, uint64_t seed) {
  Model model;
  RunNamespaceOperations(fs, model);
  PrngSource decisions(seed);
  RC_ASSERT(fs.Crash(CrashKind::kPowerLoss, CrashModel::kRandomPrefix, decisions).ok());
  CheckNoStrangers(fs);
  return model;
}

RC_GTEST_PROP(DirectoryModelProperty, PerEntryKeepsAPrefixPerNameAndWholeRenames, (uint64_t seed)) {
  SimFileSystem fs;
  const Model model = OperationsThenPowerLoss(fs, seed);
  const auto matching = MatchingPrefixes(fs, model);
  for (const auto& [key, prefixes] : matching) {
    RC_ASSERT(!prefixes.empty());  // some prefix of its pending operations
    if (model.names.at(key).pending.empty()) RC_ASSERT(prefixes.contains(0));  // synced: survives
  }
  for (const RenameRecord& rename : model.renames) {
    if (!rename.from_pending || !rename.to_pending) continue;
    // Kept means the name's prefix covers that half; both halves must agree.
    std::set<bool> from_kept, to_kept;
    for (size_t k : matching.at(rename.from)) from_kept.insert(k > rename.from_position);
    for (size_t k : matching.at(rename.to)) to_kept.insert(k > rename.to_position);
    const bool agree = (from_kept.contains(true) && to_kept.contains(true)) ||
                       (from_kept.contains(false) && to_kept.contains(false));
    RC_ASSERT(agree);
  }
}

RC_GTEST_PROP(DirectoryModelProperty, OrderedJournalKeepsOneGlobalPrefix, (uint64_t seed)) {
  SimFileSystem fs;
  fs.set_directory_model(DirectoryModel::kOrderedJournal);
  const Model model = OperationsThenPowerLoss(fs, seed);
  std::map<Key, std::optional<int>> actual;
  for (const auto& [key, state] : model.names) actual[key] = Binding(fs, key);
  bool some_cut_matches = false;
  for (size_t cut = 0; cut <= model.journal.size() && !some_cut_matches; ++cut) {
    std::map<Key, std::optional<int>> state;
    for (const auto& [key, name] : model.names) state[key] = name.durable;
    for (size_t i = 0; i < cut; ++i) {
      for (const auto& [key, binding] : model.journal[i].changes) state[key] = binding;
    }
    some_cut_matches = state == actual;
  }
  RC_ASSERT(some_cut_matches);
}

// Strict POSIX lets a power loss keep some pending entries and drop others:
// not the all-or-nothing revert of each directory of old.
TEST(DirectoryModelTest, PerEntryKeepsSomePendingEntriesAndDropsOthers) {
  std::set<size_t> survivor_counts;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    SimFileSystem fs;
    for (int i = 0; i < 3; ++i) WriteFile(fs, fmt::format("f{}", i), "data", true);
    PrngSource decisions(seed);
    ASSERT_TRUE(fs.Crash(CrashKind::kPowerLoss, CrashModel::kRandomPrefix, decisions).ok());
    survivor_counts.insert(fs.ListDir("")->size());
  }
  EXPECT_TRUE(survivor_counts.contains(0));
  EXPECT_TRUE(survivor_counts.contains(3));
  EXPECT_GT(survivor_counts.size(), 2u) << "no partial directory state in 50 power losses";
}

TEST(DirectoryModelTest, DropAllUnsyncedDropsEveryPendingEntry) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SimFileSystem fs;
    WriteFile(fs, "kept", "k", true);
    ASSERT_TRUE(fs.SyncDir("").ok());
    for (int i = 0; i < 6; ++i) WriteFile(fs, fmt::format("f{}", i), "data", true);
    ASSERT_TRUE(fs.Unlink("kept").ok());
    PrngSource decisions(seed);
    ASSERT_TRUE(fs.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, decisions).ok());
    ASSERT_EQ(fs.ListDir("")->size(), 1u);
    EXPECT_EQ(ReadFile(fs, "kept"), "k");
  }
}

TEST(DirectoryModelTest, ASyncedHalfOfACrossDirectoryRenameSurvivesOnItsOwn) {
  std::set<std::pair<bool, bool>> outcomes;  // (at source, at target)
  for (uint64_t seed = 0; seed < 40; ++seed) {
    SimFileSystem fs;
    BuildCrossDirectoryRename(fs);
    ASSERT_TRUE(fs.SyncDir("b").ok());  // the link half is durable, the unlink half pending
    PrngSource decisions(seed);
    ASSERT_TRUE(fs.Crash(CrashKind::kPowerLoss, CrashModel::kRandomPrefix, decisions).ok());
    EXPECT_EQ(ReadFile(fs, "b/f"), "F");
    outcomes.insert({ReadFile(fs, "a/f") == "F", true});
  }
  // The pending unlink half was kept in some runs and dropped in others
  // (then the file has two names, which POSIX allows).
  EXPECT_EQ(outcomes.size(), 2u);
}

// ext4's auto_da_alloc: replacing a file by writing a temporary and renaming
// it over the old one never leaves the new name with missing data, even
// without a sync; strict POSIX does.
TEST(DirectoryModelTest, OrderedJournalKeepsWritesBeforeAKeptRename) {
  const std::string old_contents = "old";
  const std::string new_contents(3000, 'n');
  std::map<DirectoryModel, std::set<std::string>> seen;
  for (DirectoryModel model : {DirectoryModel::kOrderedJournal, DirectoryModel::kPerEntry}) {
    for (uint64_t seed = 0; seed < 60; ++seed) {
      SimFileSystem fs;
      fs.set_directory_model(model);
      WriteFile(fs, "target", old_contents, true);
      ASSERT_TRUE(fs.SyncDir("").ok());
      auto file = fs.Open("tmp", engine::OpenMode::kCreate);
      for (int part = 0; part < 3; ++part) {
        ASSERT_TRUE((*file)->Append(std::span<const char>(new_contents.data() + part * 1000, 1000)).ok());
      }
      ASSERT_TRUE(fs.Rename("tmp", "target").ok());
      PrngSource decisions(seed);
      ASSERT_TRUE(fs.Crash(CrashKind::kPowerLoss, CrashModel::kRandomPrefix, decisions).ok());
      seen[model].insert(ReadFile(fs, "target"));
    }
  }
  EXPECT_EQ(seen[DirectoryModel::kOrderedJournal], (std::set<std::string>{old_contents, new_contents}));
  EXPECT_GT(seen[DirectoryModel::kPerEntry].size(), 2u) << "strict POSIX should expose partial data";
}

}  // namespace
}  // namespace sim
