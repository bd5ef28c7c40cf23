// Helpers shared by the fuzz targets and the corpus generator: a loud
// failure for broken invariants and a byte-for-byte picture of a directory
// tree.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "engine/common/file_util.h"
#include "engine/env/env.h"

namespace fuzz {

// A broken invariant: print why and trap, so libFuzzer records the input as
// a crash (an absl::Status error from the engine is never one).
template <typename... Args>
[[noreturn]] void Fail(fmt::format_string<Args...> format, Args&&... args) {
  const std::string message = fmt::format(format, std::forward<Args>(args)...);
  std::fprintf(stderr, "fuzz invariant broken: %s\n", message.c_str());
  std::fflush(stderr);
  __builtin_trap();
}

// With SHARDSIM_FUZZ_VERBOSE set, harnesses say how each input ended (to
// check what a seed reaches; the reproducer driver is the usual runner).
template <typename... Args>
void Note(fmt::format_string<Args...> format, Args&&... args) {
  static const bool verbose = std::getenv("SHARDSIM_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "  %s\n", fmt::format(format, std::forward<Args>(args)...).c_str());
}

// Every path under `root` (directories end with '/') with its contents.
using Tree = std::map<std::string, std::string>;

inline void CollectTree(engine::FileSystem& fs, const std::string& dir, Tree& out) {
  auto entries = fs.ListDir(dir);
  if (!entries.ok()) return;  // a missing directory is an empty tree
  for (const engine::DirEntry& entry : *entries) {
    const std::string path = engine::JoinPath(dir, entry.name);
    if (entry.kind == engine::EntryKind::kDirectory) {
      out[path + "/"] = "";
      CollectTree(fs, path, out);
    } else {
      auto contents = engine::ReadWholeFile(fs, path);
      out[path] = contents.ok() ? *contents : "<unreadable: " + contents.status().ToString() + ">";
    }
  }
}

inline Tree TreeOf(engine::FileSystem& fs, const std::string& root) {
  Tree tree;
  CollectTree(fs, root, tree);
  return tree;
}

// The first path where two trees differ, for the failure message.
inline std::string FirstDifference(const Tree& a, const Tree& b) {
  for (const auto& [path, contents] : a) {
    auto it = b.find(path);
    if (it == b.end()) return path + " disappeared";
    if (it->second != contents) return path + " changed";
  }
  for (const auto& [path, contents] : b) {
    if (!a.contains(path)) return path + " appeared";
  }
  return "no difference";
}

}  // namespace fuzz
