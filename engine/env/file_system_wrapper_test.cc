// FileSystemWrapper and FileWrapper: a wrapper that overrides nothing is
// indistinguishable from its target (each call reaches the target once, with
// its arguments, and the target's answer comes back unchanged), and an
// override changes its own call and no other.
#include "engine/env/file_system_wrapper.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace engine {
namespace {

// Records every call with its arguments and answers each call with a result
// no other call gives, so a call forwarded to the wrong method, with other
// arguments, or with its answer lost shows in the log or the results.
class RecordingFile final : public File {
 public:
  explicit RecordingFile(std::vector<std::string>& calls) : calls_(calls) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    calls_.push_back(fmt::format("read {} {}", offset, out.size()));
    out[0] = 'r';
    return size_t{1};
  }
  absl::Status WriteAt(uint64_t offset, std::span<const char> data) override {
    calls_.push_back(fmt::format("write {} {}", offset, std::string_view(data.data(), data.size())));
    return absl::DataLossError("write");
  }
  absl::Status Append(std::span<const char> data) override {
    calls_.push_back(fmt::format("append {}", std::string_view(data.data(), data.size())));
    return absl::ResourceExhaustedError("append");
  }
  absl::StatusOr<uint64_t> Size() override {
    calls_.push_back("size");
    return uint64_t{42};
  }
  absl::Status Truncate(uint64_t size_bytes) override {
    calls_.push_back(fmt::format("truncate {}", size_bytes));
    return absl::InternalError("truncate");
  }
  absl::Status Sync() override {
    calls_.push_back("sync");
    return absl::UnavailableError("sync");
  }

 private:
  std::vector<std::string>& calls_;
};

class RecordingFileSystem final : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, OpenMode mode) override {
    calls.push_back(fmt::format("open {} {}", path, static_cast<int>(mode)));
    return std::make_unique<RecordingFile>(calls);
  }
  absl::Status Mkdir(std::string_view path) override {
    calls.push_back(fmt::format("mkdir {}", path));
    return absl::AlreadyExistsError("mkdir");
  }
  absl::Status Rmdir(std::string_view path) override {
    calls.push_back(fmt::format("rmdir {}", path));
    return absl::FailedPreconditionError("rmdir");
  }
  absl::Status Unlink(std::string_view path) override {
    calls.push_back(fmt::format("unlink {}", path));
    return absl::NotFoundError("unlink");
  }
  absl::Status Rename(std::string_view from, std::string_view to) override {
    calls.push_back(fmt::format("rename {} {}", from, to));
    return absl::DataLossError("rename");
  }
  absl::Status SyncDir(std::string_view path) override {
    calls.push_back(fmt::format("syncdir {}", path));
    return absl::InternalError("syncdir");
  }
  absl::StatusOr<std::vector<DirEntry>> ListDir(std::string_view path) override {
    calls.push_back(fmt::format("list {}", path));
    return std::vector<DirEntry>{{.name = "listed", .kind = EntryKind::kFile}};
  }
  absl::StatusOr<EntryKind> Stat(std::string_view path) override {
    calls.push_back(fmt::format("stat {}", path));
    return EntryKind::kDirectory;
  }

  std::vector<std::string> calls;
};

template <typename T>
std::string Describe(const absl::StatusOr<T>& result) {
  return result.ok() ? "ok" : result.status().ToString();
}

// Every call of `file`, each with its own arguments; what each returned.
std::vector<std::string> CallEveryFileMethod(File& file) {
  std::vector<std::string> results;
  char buffer[4] = {};
  const auto read = file.ReadAt(3, buffer);
  results.push_back(read.ok() ? fmt::format("read {} '{}'", *read, buffer[0]) : read.status().ToString());
  const std::string data = "bytes";
  results.push_back(file.WriteAt(5, data).ToString());
  results.push_back(file.Append(data).ToString());
  const auto size = file.Size();
  results.push_back(size.ok() ? fmt::format("size {}", *size) : size.status().ToString());
  results.push_back(file.Truncate(7).ToString());
  results.push_back(file.Sync().ToString());
  return results;
}

// Every call of `fs` (and of the file it opens); what each returned.
std::vector<std::string> CallEveryMethod(FileSystem& fs) {
  std::vector<std::string> results;
  auto file = fs.Open("dir/file", OpenMode::kCreateExclusive);
  results.push_back(Describe(file));
  if (file.ok()) {
    for (std::string& result : CallEveryFileMethod(**file)) results.push_back(std::move(result));
  }
  results.push_back(fs.Mkdir("dir").ToString());
  results.push_back(fs.Rmdir("dir/sub").ToString());
  results.push_back(fs.Unlink("dir/gone").ToString());
  results.push_back(fs.Rename("dir/from", "dir/to").ToString());
  results.push_back(fs.SyncDir("dir").ToString());
  const auto entries = fs.ListDir("dir");
  results.push_back(entries.ok() && entries->size() == 1 ? (*entries)[0].name : Describe(entries));
  const auto kind = fs.Stat("dir/what");
  results.push_back(kind.ok() ? (*kind == EntryKind::kDirectory ? "directory" : "file") : Describe(kind));
  return results;
}

// What RecordingFileSystem logs for CallEveryMethod: index i of the log is
// the call that gave result i.
const std::vector<std::string> kEveryCall = {
    "open dir/file 4", "read 3 4",        "write 5 bytes", "append bytes",
    "size",            "truncate 7",      "sync",          "mkdir dir",
    "rmdir dir/sub",   "unlink dir/gone", "rename dir/from dir/to",
    "syncdir dir",     "list dir",        "stat dir/what",
};

TEST(FileSystemWrapperTest, ForwardsEveryCallWithItsArgumentsAndAnswer) {
  RecordingFileSystem direct;
  const std::vector<std::string> direct_results = CallEveryMethod(direct);
  ASSERT_EQ(direct.calls, kEveryCall);  // the fake sees every call: the comparison below means something

  RecordingFileSystem target;
  FileSystemWrapper wrapper(target);
  EXPECT_EQ(CallEveryMethod(wrapper), direct_results);
  EXPECT_EQ(target.calls, kEveryCall);
}

TEST(FileSystemWrapperTest, FileWrapperForwardsEveryCallWithItsArgumentsAndAnswer) {
  std::vector<std::string> direct_calls;
  RecordingFile direct(direct_calls);
  const std::vector<std::string> direct_results = CallEveryFileMethod(direct);

  std::vector<std::string> calls;
  FileWrapper wrapper(std::make_unique<RecordingFile>(calls));
  EXPECT_EQ(CallEveryFileMethod(wrapper), direct_results);
  EXPECT_EQ(calls, direct_calls);
  EXPECT_EQ(calls.size(), 6u);
}

// Refuses unlinks without asking the target; everything else forwards.
class RefusingUnlink final : public FileSystemWrapper {
 public:
  using FileSystemWrapper::FileSystemWrapper;
  absl::Status Unlink(std::string_view path) override {
    return absl::PermissionDeniedError(fmt::format("refused {}", path));
  }
};

// Wraps each file it opens so that Sync succeeds without reaching the target.
class SkippingSync final : public FileSystemWrapper {
 public:
  using FileSystemWrapper::FileSystemWrapper;
  absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, OpenMode mode) override {
    auto file = FileSystemWrapper::Open(path, mode);
    if (!file.ok()) return file.status();
    return std::make_unique<SyncSkippingFile>(std::move(*file));
  }

 private:
  class SyncSkippingFile final : public FileWrapper {
   public:
    using FileWrapper::FileWrapper;
    absl::Status Sync() override { return absl::OkStatus(); }
  };
};

// Runs every call through `wrapper` (around `target`) and expects what the
// target alone answers, except that `changed_call` (as kEveryCall logs it)
// answers `changed_result` and never reaches the target.
void ExpectOnlyCallChanged(FileSystem& wrapper, const RecordingFileSystem& target, std::string_view changed_call,
                           const std::string& changed_result) {
  const auto changed = std::find(kEveryCall.begin(), kEveryCall.end(), changed_call);
  ASSERT_NE(changed, kEveryCall.end()) << changed_call;
  const auto index = changed - kEveryCall.begin();
  RecordingFileSystem direct;
  std::vector<std::string> expected_results = CallEveryMethod(direct);
  expected_results[index] = changed_result;
  EXPECT_EQ(CallEveryMethod(wrapper), expected_results);
  std::vector<std::string> expected_calls = kEveryCall;
  expected_calls.erase(expected_calls.begin() + index);
  EXPECT_EQ(target.calls, expected_calls);
}

TEST(FileSystemWrapperTest, AnOverrideChangesOnlyItsCall) {
  RecordingFileSystem target;
  RefusingUnlink wrapper(target);
  ExpectOnlyCallChanged(wrapper, target, "unlink dir/gone", "PERMISSION_DENIED: refused dir/gone");
}

TEST(FileSystemWrapperTest, AFileOverrideChangesOnlyItsCall) {
  RecordingFileSystem target;
  SkippingSync wrapper(target);
  ExpectOnlyCallChanged(wrapper, target, "sync", "OK");
}

}  // namespace
}  // namespace engine
