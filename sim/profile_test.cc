#include "sim/profile.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace sim {
namespace {

TEST(ProfileTest, NamedProfilesPrintTheirNameAndReadBack) {
  ASSERT_EQ(PersistenceProfile::Names(),
            (std::vector<std::string>{"no-fault", "strict-posix", "ext4-ordered", "faulty", "small-disk"}));
  for (const std::string& name : PersistenceProfile::Names()) {
    const std::optional<PersistenceProfile> profile = PersistenceProfile::Named(name);
    ASSERT_TRUE(profile.has_value()) << name;
    EXPECT_EQ(profile->name, name);
    EXPECT_EQ(profile->ToSpec(), name);
    EXPECT_EQ(PersistenceProfile::FromSpec(name), profile);
  }
  EXPECT_FALSE(PersistenceProfile::Named("ext3").has_value());
}

TEST(ProfileTest, NamedProfilesAreWhatTheDocsSay) {
  EXPECT_FALSE(PersistenceProfile::NoFault().HasFaults());
  EXPECT_FALSE(PersistenceProfile::StrictPosix().HasFaults());
  EXPECT_EQ(PersistenceProfile::StrictPosix().crash_models.size(), 4u);
  const PersistenceProfile ext4 = PersistenceProfile::Ext4Ordered();
  EXPECT_FALSE(ext4.HasFaults());
  EXPECT_EQ(ext4.directory_model, DirectoryModel::kOrderedJournal);
  EXPECT_EQ(ext4.crash_models, std::vector<CrashModel>{CrashModel::kRandomPrefix});
  const FaultRates faulty = PersistenceProfile::Faulty().faults;
  for (double rate : {faulty.read_error, faulty.write_error, faulty.sync_error, faulty.fsync_failure,
                      faulty.dir_sync_error, faulty.bit_flip_on_read, faulty.stored_rot}) {
    EXPECT_GT(rate, 0);
  }
  EXPECT_DOUBLE_EQ(faulty.stored_rot, 0.05);
  const PersistenceProfile small = PersistenceProfile::SmallDisk();
  EXPECT_EQ(small.capacity_headroom_bytes, 48u * 1024);
  EXPECT_DOUBLE_EQ(small.space_freed_probability, 0.5);
  EXPECT_TRUE(small.HasFaults());
}

TEST(ProfileTest, AChangedNamedProfilePrintsEveryField) {
  PersistenceProfile profile = PersistenceProfile::Faulty();
  profile.faults.read_error = 0.125;
  const std::string spec = profile.ToSpec();
  EXPECT_EQ(spec,
            "faulty{models=drop+prefix+blocks+torn;dirs=per-entry;read=0.125;write=0.002;sync=0.005;"
            "fsync=0.005;dirsync=0.005;flip=0.001;rot=0.05;headroom=0;freed=0}");
  EXPECT_EQ(PersistenceProfile::FromSpec(spec), profile);
}

// The archive room is optional in a spec: printed only when set, so specs
// written before it existed (in scenario files) still read, with no room.
TEST(ProfileTest, ArchiveRoomIsAnOptionalSpecKey) {
  const PersistenceProfile small = PersistenceProfile::SmallDisk().SizedToWorkload(40);
  EXPECT_GT(small.archive_room_bytes, 0u);
  const std::string spec = small.ToSpec();
  EXPECT_NE(spec.find(";room="), std::string::npos) << spec;
  EXPECT_EQ(PersistenceProfile::FromSpec(spec), small);
  const std::string old_spec =
      "small-disk{models=drop;dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=4992;"
      "freed=0.5}";
  const auto old = PersistenceProfile::FromSpec(old_spec);
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->archive_room_bytes, 0u);
  EXPECT_EQ(old->ToSpec(), old_spec);
  EXPECT_FALSE(PersistenceProfile::FromSpec(old_spec.substr(0, old_spec.size() - 1) + ";room=1;room=2}"));
  EXPECT_FALSE(PersistenceProfile::FromSpec(old_spec.substr(0, old_spec.size() - 1) + ";room=x}"));
}

// The allocation unit is optional too: small disks set it (a new file's
// first byte takes a sector), older specs read back byte-exact, and a unit
// that is not a power of two is refused.
TEST(ProfileTest, AllocationUnitIsAnOptionalSpecKey) {
  const PersistenceProfile small = PersistenceProfile::SmallDisk().SizedToWorkload(40);
  EXPECT_EQ(small.allocation_unit_bytes, 512u);
  const std::string spec = small.ToSpec();
  EXPECT_NE(spec.find(";unit=512}"), std::string::npos) << spec;
  EXPECT_EQ(PersistenceProfile::FromSpec(spec), small);
  EXPECT_EQ(PersistenceProfile::Faulty().allocation_unit_bytes, 0u);
  const std::string old_spec =
      "small-disk{models=drop;dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=4992;"
      "freed=0.5;room=24576}";
  ASSERT_TRUE(PersistenceProfile::FromSpec(old_spec).has_value());
  EXPECT_EQ(PersistenceProfile::FromSpec(old_spec)->allocation_unit_bytes, 0u);
  const std::string stem = old_spec.substr(0, old_spec.size() - 1);
  EXPECT_EQ(PersistenceProfile::FromSpec(stem + ";unit=4096}")->allocation_unit_bytes, 4096u);
  EXPECT_FALSE(PersistenceProfile::FromSpec(stem + ";unit=500}"));
  EXPECT_FALSE(PersistenceProfile::FromSpec(stem + ";unit=512;unit=512}"));
}

// Swarm testing: per seed a profile; a third or more of them inject faults,
// and every class is on in some and off in others.
TEST(ProfileTest, DrawnProfilesHaveFaultsInAThirdOfSeedsAndRoundTrip) {
  constexpr int kDraws = 10'000;
  PrngSource decisions(42);
  int with_faults = 0;
  std::array<int, 8> on{};  // read, write, sync, fsync, dirsync, flip, rot, small disk
  std::array<int, 4> models_on{};
  int ordered_journal = 0;
  for (int i = 0; i < kDraws; ++i) {
    const PersistenceProfile profile = PersistenceProfile::Draw(decisions);
    ASSERT_FALSE(profile.crash_models.empty());
    with_faults += profile.HasFaults() ? 1 : 0;
    const FaultRates& f = profile.faults;
    const bool classes[] = {f.read_error > 0,     f.write_error > 0,      f.sync_error > 0,
                            f.fsync_failure > 0,  f.dir_sync_error > 0,   f.bit_flip_on_read > 0,
                            f.stored_rot > 0,     profile.capacity_headroom_bytes > 0};
    for (size_t c = 0; c < on.size(); ++c) on[c] += classes[c] ? 1 : 0;
    for (CrashModel model : profile.crash_models) ++models_on[static_cast<size_t>(model)];
    ordered_journal += profile.directory_model == DirectoryModel::kOrderedJournal ? 1 : 0;
    // What a run uses (and a scenario keeps) is the profile sized to its
    // workload: that one round-trips exactly.
    const PersistenceProfile sized = profile.SizedToWorkload(40);
    ASSERT_FALSE(sized.headroom_from_workload);
    const std::string spec = sized.ToSpec();
    ASSERT_EQ(spec.find(' '), std::string::npos) << spec;
    ASSERT_EQ(PersistenceProfile::FromSpec(spec), sized) << spec;
  }
  EXPECT_GE(with_faults * 3, kDraws) << with_faults << " of " << kDraws << " drawn profiles have faults";
  EXPECT_LE(with_faults * 10, kDraws * 6) << "most seeds should still run without faults";
  for (size_t c = 0; c < on.size(); ++c) {
    EXPECT_GT(on[c], 0) << "class " << c << " never on";
    EXPECT_LT(on[c], kDraws) << "class " << c << " always on";
  }
  for (int count : models_on) EXPECT_GT(count, 0);
  EXPECT_GT(ordered_journal, 0);
  EXPECT_LT(ordered_journal, kDraws);
}

TEST(ProfileTest, MalformedSpecsAreRefused) {
  const std::string good =
      "x{models=drop;dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}";
  ASSERT_TRUE(PersistenceProfile::FromSpec(good).has_value());
  for (const std::string& bad : std::vector<std::string>{
           "", "unknown", "x", "{models=drop}", "x{", "x}",
           "X{models=drop;dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}",
           "x y{models=drop;dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}",
           "x{models=;dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}",
           "x{models=drop+drop;dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}",
           "x{models=fast;dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}",
           "x{models=drop;dirs=btrfs;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}",
           "x{models=drop;dirs=per-entry;read=1.5;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}",
           "x{models=drop;dirs=per-entry;read=-0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}",
           "x{models=drop;dirs=per-entry;read=nan;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}",
           "x{models=drop;dirs=per-entry;read=0.1x;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}",
           "x{models=drop;dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=-1;freed=0}",
           "x{models=drop;dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0}",
           "x{models=drop;dirs=per-entry;read=0;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}",
           "x{models=drop;dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0;extra=1}",
           "x{models=drop;dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0;}",
           "x{models=drop dirs=per-entry;read=0;write=0;sync=0;fsync=0;dirsync=0;flip=0;rot=0;headroom=0;freed=0}",
           good + "}",
       }) {
    EXPECT_FALSE(PersistenceProfile::FromSpec(bad).has_value()) << bad;
  }
}

TEST(ProfileTest, DescribeNamesEveryField) {
  PersistenceProfile profile = PersistenceProfile::SmallDisk();
  profile.directory_model = DirectoryModel::kOrderedJournal;
  const std::string text = profile.Describe();
  for (const char* part : {"small-disk", "drop-unsynced, random-prefix, random-blocks, torn-last-block",
                           "ordered-journal", "read 0", "write 0", "sync 0", "fsync failure 0", "dir sync 0",
                           "bit flip 0", "stored rot 0", "capacity headroom: 49152 bytes",
                           "space freed after ENOSPC: 0.5", "allocation unit: 512 bytes"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << " missing from " << text;
  }
  EXPECT_EQ(text.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace sim
