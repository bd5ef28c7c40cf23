#include "tools/shardsim/output_paths.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/common/run_unprivileged.h"

namespace shardsim {
namespace {

namespace fs = std::filesystem;

class OutputPathsTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "output_paths_test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all);
    fs::remove_all(dir_);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST_F(OutputPathsTest, ANewFileInAnExistingDirectoryIsFineAndNotLeftBehind) {
  EXPECT_TRUE(CheckOutputFile("--json", Path("new.json")).ok());
  EXPECT_FALSE(fs::exists(Path("new.json")));
}

TEST_F(OutputPathsTest, AnExistingFileIsKeptAsItIs) {
  std::ofstream(Path("old.json")) << "kept";
  EXPECT_TRUE(CheckOutputFile("--json", Path("old.json")).ok());
  std::ifstream in(Path("old.json"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "kept");
}

// The issue: `campaign --json /nonexistent/x` failed after the campaign.
TEST_F(OutputPathsTest, AMissingDirectoryIsNamed) {
  const std::string path = Path("absent/x.json");
  EXPECT_EQ(Message(CheckOutputFile("--json", path)),
            "--json " + path + ": the directory " + Path("absent") + " does not exist");
}

TEST_F(OutputPathsTest, ADirectoryIsNotAFile) {
  EXPECT_EQ(Message(CheckOutputFile("-o", dir_.string())), "-o " + dir_.string() + ": is a directory");
}

TEST_F(OutputPathsTest, AFileIsNotADirectory) {
  std::ofstream(Path("file")) << "x";
  EXPECT_EQ(Message(CheckOutputFile("-o", Path("file/x.scn"))), "-o " + Path("file/x.scn") + ": " + Path("file") +
                                                                    " is not a directory");
  EXPECT_EQ(Message(CheckOutputDirectory("--found-dir", Path("file"))),
            "--found-dir " + Path("file") + ": is not a directory");
  EXPECT_EQ(Message(CheckOutputDirectory("--found-dir", Path("file/sub"))),
            "--found-dir " + Path("file/sub") + ": " + Path("file") + " is not a directory");
}

TEST_F(OutputPathsTest, ADirectoryToBeCreatedNeedsAWritableAncestor) {
  EXPECT_TRUE(CheckOutputDirectory("--found-dir", Path("a/b/c")).ok());
  EXPECT_FALSE(fs::exists(Path("a")));  // created when a failure is written, not now
  EXPECT_TRUE(CheckOutputDirectory("--found-dir", dir_.string()).ok());
}

// Run as nobody when the test runs as root (CI), whom file modes do not stop.
TEST_F(OutputPathsTest, AReadOnlyDirectoryIsRefused) {
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                            fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  const std::string file = Path("x.json"), sub = Path("sub");
  const std::string messages = engine::RunUnprivileged([&file, &sub] {
    return Message(CheckOutputFile("--json", file)) + "|" +
           (CheckOutputDirectory("--found-dir", sub).ok() ? "ok" : "refused");
  });
  EXPECT_EQ(messages, "--json " + file + ": cannot create: Permission denied|refused");
}

}  // namespace
}  // namespace shardsim
