#include "scenarios/input_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/common/run_unprivileged.h"
#include "scenarios/cluster_format.h"
#include "scenarios/scenario_format.h"

namespace scenarios {
namespace {

namespace fs = std::filesystem;

class InputFileTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "input_file_test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  fs::path dir_;
};

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST_F(InputFileTest, ReadsAWholeFile) {
  const std::string text = std::string(100'000, 'x') + "end";
  auto read = ReadInputFile(Write("f", text));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, text);
}

// A directory made std::ifstream throw (from-fuzz aborted) or read as
// empty text ("incomplete scenario").
TEST_F(InputFileTest, ADirectoryIsNamedAsOne) {
  auto read = ReadInputFile(dir_.string());
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(Message(read.status()), dir_.string() + " is a directory");
  for (const absl::Status& status : {ReadScenarioFile(dir_.string()).status(),
                                     ReadClusterScenarioFile(dir_.string()).status()}) {
    EXPECT_EQ(Message(status), dir_.string() + " is a directory");
  }
}

TEST_F(InputFileTest, AMissingFileSaysWhy) {
  const std::string path = (dir_ / "absent").string();
  auto read = ReadInputFile(path);
  ASSERT_FALSE(read.ok());
  EXPECT_TRUE(absl::IsNotFound(read.status()));
  EXPECT_EQ(Message(read.status()), "cannot open " + path + ": No such file or directory");
}

TEST_F(InputFileTest, AnEmptyScenarioIsAnEmptyFile) {
  const std::string path = Write("empty.scn", "");
  auto read = ReadInputFile(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "");
  EXPECT_EQ(Message(ReadNonEmptyInputFile(path).status()), path + ": empty file");
  EXPECT_EQ(Message(ReadScenarioFile(path).status()), path + ": empty file");
  EXPECT_EQ(Message(ReadClusterScenarioFile(path).status()), path + ": empty file");
}

// /proc/self/mem fails its first read (address 0 is not mapped) even for
// root, whom file modes do not stop.
TEST_F(InputFileTest, AReadErrorIsReported) {
  auto read = ReadInputFile("/proc/self/mem");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(Message(read.status()), "cannot read /proc/self/mem: Input/output error");
}

// Run as nobody when the test runs as root (CI), whom file modes do not stop.
TEST_F(InputFileTest, AFileWithoutReadPermissionIsReported) {
  const std::string path = Write("locked", "text");
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  const std::string message = engine::RunUnprivileged([&path] {
    auto read = ReadInputFile(path);
    return read.ok() ? std::string("read succeeded") : Message(read.status());
  });
  EXPECT_EQ(message, "cannot open " + path + ": Permission denied");
}

}  // namespace
}  // namespace scenarios
