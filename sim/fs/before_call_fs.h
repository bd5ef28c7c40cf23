// BeforeCallFileSystem: a FileSystemWrapper for a layer that acts the same
// way before every call, on the file system and on every file opened through
// it: the world's tracing layer (a scheduling point and a trace step per
// call), the snapshot benchmark's cost layer (a sleep for a modelled disk's
// time per call). The layer says what it does once, in BeforeCall, instead of
// overriding fourteen calls; a layer that changes only a few calls derives
// from FileSystemWrapper instead.
//
// Contract:
// - BeforeCall runs once per call, before the call reaches the target. If it
//   returns an error, the call returns that error and the target is not
//   called (an Open then opens nothing).
// - Every file opened through the layer is wrapped; its calls reach
//   BeforeCall with the path it was opened with. REQUIRES: the layer
//   outlives the files opened through it, and the target outlives the layer.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/env/env.h"
#include "engine/env/file_system_wrapper.h"

namespace sim {

enum class FsCallKind : uint8_t {
  // File-system calls.
  kOpen, kMkdir, kRmdir, kUnlink, kRename, kSyncDir, kListDir, kStat,
  // File calls.
  kRead, kWrite, kAppend, kSize, kTruncate, kSync,
};

// The trace's word for a call: "open", "mkdir", "rmdir", "unlink", "rename",
// "syncdir", "list", "stat", "read", "write", "append", "size", "truncate",
// "sync".
std::string_view FsCallName(FsCallKind kind);

// One call as BeforeCall sees it. The views live as long as the call.
struct FsCall {
  FsCallKind kind;
  std::string_view path;     // the file's path for file calls; rename: the source
  std::string_view to_path;  // rename: the target; empty otherwise
  // The trace's number for the call: open: the mode; read, write: the
  // offset; append: the length; truncate: the new size; 0 otherwise.
  uint64_t arg = 0;
  uint64_t bytes = 0;  // read, write, append: the length of the buffer; 0 otherwise
};

class BeforeCallFileSystem : public engine::FileSystemWrapper {
 public:
  explicit BeforeCallFileSystem(engine::FileSystem& target) : FileSystemWrapper(target) {}

  absl::StatusOr<std::unique_ptr<engine::File>> Open(std::string_view path,
                                                     engine::OpenMode mode) final;
  absl::Status Mkdir(std::string_view path) final;
  absl::Status Rmdir(std::string_view path) final;
  absl::Status Unlink(std::string_view path) final;
  absl::Status Rename(std::string_view from, std::string_view to) final;
  absl::Status SyncDir(std::string_view path) final;
  absl::StatusOr<std::vector<engine::DirEntry>> ListDir(std::string_view path) final;
  absl::StatusOr<engine::EntryKind> Stat(std::string_view path) final;

 protected:
  virtual absl::Status BeforeCall(const FsCall& call) = 0;

 private:
  // The file wrapper: each of its calls goes through BeforeCall first.
  class BeforeCallFile;
};

}  // namespace sim
