// fuzz_restore's structure-aware mutation: a restore input's archive is
// taken apart (engine::ReadTar), one entry's contents are mutated by
// libFuzzer, and the manifest's size and SHA-256 for that entry are
// re-derived before the tar is written again with the engine's own writer
// (engine::TarWriter, libarchive). Without this nearly every mutation stops
// at the manifest check and the segment and WAL parsers behind it are never
// reached. The harness derives the archive's `.checksum` from the bytes
// anyway (unless flag kWrongChecksum), so it needs no re-deriving here.
//
// Flag kStaleManifest (restore_input.h) keeps the manifest as it was, so the
// refusal of a file that does not match it stays covered; one mutation in
// eight is a plain byte mutation of the whole input (flags, tar headers).
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/archive/sha256.h"
#include "engine/archive/tar_archive.h"
#include "engine/common/file_util.h"
#include "fuzz/restore_input.h"
#include "sim/fs/sim_fs.h"

// Weak: the reproducer binaries link no libFuzzer and never mutate.
extern "C" __attribute__((weak)) size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace fuzz {

// The manifest's record of `entry` set to its contents; false when the
// manifest does not parse or does not list it (then nothing is changed).
inline bool RederiveManifestEntry(std::vector<engine::TarEntry>& entries, const engine::TarEntry& entry) {
  for (engine::TarEntry& manifest : entries) {
    if (manifest.path != "manifest.json") continue;
    nlohmann::json json = nlohmann::json::parse(manifest.contents, nullptr, false);
    if (json.is_discarded() || !json.is_object() || !json.contains("files") || !json["files"].is_object()) return false;
    nlohmann::json& files = json["files"];
    if (!files.contains(entry.path) || !files[entry.path].is_object()) return false;
    files[entry.path]["size"] = entry.contents.size();
    files[entry.path]["sha256"] = engine::Sha256Hex(entry.contents);
    manifest.contents = json.dump();
    return true;
  }
  return false;
}

// The entries as a tar, written as a snapshot writes one (through a scratch
// simulated file system: TarWriter writes to an engine::File).
inline std::optional<std::string> WriteTar(const std::vector<engine::TarEntry>& entries) {
  sim::SimFileSystem fs;
  auto file = fs.Open("t.tar", engine::OpenMode::kCreateExclusive);
  if (!file.ok()) return std::nullopt;
  auto writer = engine::TarWriter::Open(**file);
  if (!writer.ok()) return std::nullopt;
  for (const engine::TarEntry& entry : entries) {
    // Directories are implied by the files' paths (as in a snapshot).
    if (!entry.directory && !(*writer)->AddFile(entry.path, entry.contents).ok()) return std::nullopt;
  }
  if (!(*writer)->Finish().ok()) return std::nullopt;
  file->reset();
  auto bytes = engine::ReadWholeFile(fs, "t.tar");
  if (!bytes.ok()) return std::nullopt;
  return *std::move(bytes);
}

// Mutates one file entry of the archive in `input` (flags byte, tar);
// nullopt when the archive does not parse or has no file entry.
inline std::optional<std::string> MutateArchiveEntry(std::string_view input, size_t max_size, std::minstd_rand& rng) {
  const uint8_t flags = static_cast<uint8_t>(input[0]);
  auto entries = engine::ReadTar(input.substr(1), engine::TarLimits{.max_entry_bytes = max_size});
  if (!entries.ok()) return std::nullopt;
  std::vector<size_t> files;
  for (size_t index = 0; index < entries->size(); ++index) {
    if (!(*entries)[index].directory) files.push_back(index);
  }
  if (files.empty()) return std::nullopt;
  engine::TarEntry& entry = (*entries)[files[rng() % files.size()]];
  std::string& contents = entry.contents;
  // Room to grow by what the input may still grow by (tar headers and
  // block padding may still push the result over; then it is dropped).
  const size_t room = contents.size() + (max_size > input.size() ? max_size - input.size() : 0);
  const size_t before = contents.size();
  contents.resize(std::max<size_t>(room, 1));
  contents.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(contents.data()), before, contents.size()));
  if (!(flags & kStaleManifest) && entry.path != "manifest.json") RederiveManifestEntry(*entries, entry);
  auto tar = WriteTar(*entries);
  if (!tar || 1 + tar->size() > max_size) return std::nullopt;
  return EncodeRestoreInput(flags, *tar);
}

}  // namespace fuzz
