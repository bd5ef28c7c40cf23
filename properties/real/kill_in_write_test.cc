// The in-write kill: the process dies by SIGKILL at its N-th multi-page WAL
// write and at no other write, and what the file keeps is a prefix of what
// was written (a real kill -9 inside a real write).
#include "properties/real/kill_in_write.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace properties {
namespace {

constexpr size_t kEntryBytes = 64 * 1024;

std::string TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "kill-in-write-XXXXXX").string();
  EXPECT_NE(mkdtemp(pattern.data()), nullptr);
  return pattern;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// In a child: small WAL writes, a multi-page write to another file, then
// multi-page WAL writes 1, 2, 3 (the plan names one). Returns the wait status.
int RunChild(const std::string& dir, KillInWrite plan) {
  const pid_t pid = fork();
  if (pid == 0) {
    engine::PosixEnv posix(dir, [](std::string_view) {});
    KillInWriteEnv env(posix, plan, [] {});
    if (!env.fs().Mkdir("wal").ok()) _exit(3);
    auto other = env.fs().Open("segment", engine::OpenMode::kCreate);
    auto wal = env.fs().Open("wal/log", engine::OpenMode::kCreate);
    if (!other.ok() || !wal.ok()) _exit(3);
    const std::string small(4000, 's'), big(kEntryBytes, 'b');
    for (int i = 0; i < 10; ++i) (void)(*wal)->Append(std::span<const char>(small.data(), small.size()));
    (void)(*other)->Append(std::span<const char>(big.data(), big.size()));
    for (char fill : {'1', '2', '3'}) {
      const std::string entry(kEntryBytes, fill);
      (void)(*wal)->Append(std::span<const char>(entry.data(), entry.size()));
      usleep(50'000);  // the timer fires within this when it is armed
    }
    _exit(0);
  }
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

TEST(KillInWriteTest, DiesInTheNamedMultiPageWalWriteOnly) {
  for (uint32_t ordinal : {1u, 3u}) {
    const std::string dir = TempDir();
    const int status = RunChild(dir, {.ordinal = ordinal, .delay_ns = 1000});
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "ordinal " << ordinal << ": " << status;
    const std::string wal = ReadAll(dir + "/wal/log");
    // The small writes and the writes before the named one are whole; the
    // named one is whole, torn at a page, or absent; nothing comes after it.
    const size_t before = 10 * 4000 + (ordinal - 1) * kEntryBytes;
    ASSERT_GE(wal.size(), before) << "ordinal " << ordinal;
    ASSERT_LE(wal.size(), before + kEntryBytes) << "ordinal " << ordinal;
    for (size_t i = before; i < wal.size(); ++i) {
      ASSERT_EQ(wal[i], static_cast<char>('0' + ordinal)) << "byte " << i;
    }
    EXPECT_EQ(ReadAll(dir + "/segment").size(), kEntryBytes);  // not a WAL file: never counted
    std::filesystem::remove_all(dir);
  }
}

TEST(KillInWriteTest, NoKillWhenTheWriteNeverComes) {
  const std::string dir = TempDir();
  const int status = RunChild(dir, {.ordinal = 4, .delay_ns = 0});
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(ReadAll(dir + "/wal/log").size(), 10 * 4000 + 3 * kEntryBytes);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace properties
