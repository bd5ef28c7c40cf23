// Property: each crash model keeps exactly what it promises. Random
// operations run against SimFileSystem and against a deliberately simple
// model of one directory (names -> file ids, each file with its durable image
// and the writes since its last sync, each name with the bindings its
// pending operations gave it); after a crash the file system must be in a
// state the model allows. Directory durability in depth (several
// directories, renames across them) is directory_model_test.cc.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/fs/sim_fs.h"

namespace sim {
namespace {

struct ModelWrite {
  bool truncate;
  uint64_t offset;
  std::string bytes;
};

void ApplyModelWrite(std::string& image, const ModelWrite& write) {
  if (write.truncate) {
    image.resize(write.offset, '\0');
    return;
  }
  if (image.size() < write.offset + write.bytes.size()) image.resize(write.offset + write.bytes.size(), '\0');
  for (size_t i = 0; i < write.bytes.size(); ++i) image[write.offset + i] = write.bytes[i];
}

struct ModelFile {
  std::string durable;
  std::vector<ModelWrite> unsynced;
  std::string Volatile() const {
    std::string image = durable;
    for (const auto& write : unsynced) ApplyModelWrite(image, write);
    return image;
  }
};

struct Model {
  std::map<int, ModelFile> files;
  std::map<std::string, int> entries, durable_entries;
  // Per name, its binding after each of its pending (unsynced) operations.
  std::map<std::string, std::vector<std::optional<int>>> pending_bindings;
  int next_file = 0;
};

std::string ReadAll(SimFileSystem& fs, const std::string& name) {
  auto file = fs.Open(name, engine::OpenMode::kRead);
  RC_ASSERT(file.ok());
  const uint64_t size = *(*file)->Size();
  std::string data(size, '\0');
  RC_ASSERT(*(*file)->ReadAt(0, std::span<char>(data.data(), data.size())) == size);
  return data;
}

// Runs random operations on names a, b, c in the root directory.
void RunOperations(SimFileSystem& fs, Model& model) {
  const std::vector<std::string> names{"a", "b", "c"};
  const int count = *rc::gen::inRange(0, 40);
  for (int i = 0; i < count; ++i) {
    const std::string name = *rc::gen::elementOf(names);
    const int kind = *rc::gen::inRange(0, 7);
    const bool exists = model.entries.contains(name);
    if (kind == 0 || !exists) {  // create
      auto file = fs.Open(name, engine::OpenMode::kCreate);
      RC_ASSERT(file.ok());
      if (!exists) {
        const int id = model.next_file++;
        model.entries[name] = id;
        model.files[id] = ModelFile{};
        model.pending_bindings[name].push_back(id);
      }
      continue;
    }
    ModelFile& model_file = model.files[model.entries[name]];
    auto file = fs.Open(name, engine::OpenMode::kReadWrite);
    RC_ASSERT(file.ok());
    if (kind == 1 || kind == 2) {  // write or append, up to three 4 KiB blocks
      const uint64_t offset = kind == 2 ? model_file.Volatile().size() : *rc::gen::inRange<uint64_t>(0, 12000);
      const std::string bytes = *rc::gen::container<std::string>(*rc::gen::inRange(1, 5000), rc::gen::character<char>());
      RC_ASSERT((*file)->WriteAt(offset, std::span<const char>(bytes.data(), bytes.size())).ok());
      model_file.unsynced.push_back({false, offset, bytes});
    } else if (kind == 3) {
      const uint64_t size = *rc::gen::inRange<uint64_t>(0, 9000);
      RC_ASSERT((*file)->Truncate(size).ok());
      model_file.unsynced.push_back({true, size, {}});
    } else if (kind == 4) {
      RC_ASSERT((*file)->Sync().ok());
      model_file.durable = model_file.Volatile();
      model_file.unsynced.clear();
    } else if (kind == 5) {
      RC_ASSERT(fs.SyncDir("").ok());
      model.durable_entries = model.entries;
      model.pending_bindings.clear();
    } else {  // rename over another name, or unlink
      const std::string target = *rc::gen::elementOf(names);
      if (target == name) {
        RC_ASSERT(fs.Unlink(name).ok());
        model.entries.erase(name);
        model.pending_bindings[name].push_back(std::nullopt);
      } else {
        RC_ASSERT(fs.Rename(name, target).ok());
        model.entries[target] = model.entries[name];
        model.entries.erase(name);
        model.pending_bindings[name].push_back(std::nullopt);
        model.pending_bindings[target].push_back(model.entries[target]);
      }
    }
  }
}

std::vector<std::string> Names(SimFileSystem& fs) {
  auto listing = fs.ListDir("");
  RC_ASSERT(listing.ok());
  std::vector<std::string> names;
  for (const auto& entry : *listing) names.push_back(entry.name);
  return names;
}

// The bindings a name may have after a power loss: its durable one, or
// (unless every pending operation is dropped) its binding after any of its
// pending operations.
std::set<std::optional<int>> PossibleBindings(const Model& model, const std::string& name, bool drops_everything) {
  std::set<std::optional<int>> possible;
  const auto durable = model.durable_entries.find(name);
  possible.insert(durable == model.durable_entries.end() ? std::nullopt : std::optional<int>(durable->second));
  const auto pending = model.pending_bindings.find(name);
  if (!drops_everything && pending != model.pending_bindings.end()) {
    possible.insert(pending->second.begin(), pending->second.end());
  }
  return possible;
}

void CheckNames(SimFileSystem& fs, const std::map<std::string, int>& expected) {
  const std::vector<std::string> names = Names(fs);
  std::vector<std::string> wanted;
  for (const auto& [name, id] : expected) wanted.push_back(name);
  RC_ASSERT(names == wanted);
}

bool BlockwiseMix(const std::string& actual, const std::string& old_image, const std::string& new_image) {
  if (actual.size() != old_image.size() && actual.size() != new_image.size()) return false;
  const auto block = [](const std::string& image, size_t start, size_t length) {
    std::string out(length, '\0');
    for (size_t i = 0; i < length && start + i < image.size(); ++i) out[i] = image[start + i];
    return out;
  };
  for (size_t start = 0; start < actual.size(); start += SimFileSystem::kBlockBytes) {
    const size_t length = std::min<size_t>(SimFileSystem::kBlockBytes, actual.size() - start);
    const std::string got = actual.substr(start, length);
    if (got != block(old_image, start, length) && got != block(new_image, start, length)) return false;
  }
  return true;
}

bool Allowed(CrashModel model, const ModelFile& file, const std::string& actual) {
  switch (model) {
    case CrashModel::kDropAllUnsynced:
      return actual == file.durable;
    case CrashModel::kRandomPrefix: {
      std::string image = file.durable;
      if (actual == image) return true;
      for (const auto& write : file.unsynced) {
        ApplyModelWrite(image, write);
        if (actual == image) return true;
      }
      return false;
    }
    case CrashModel::kRandomBlocks:
      return BlockwiseMix(actual, file.durable, file.Volatile());
    case CrashModel::kTornLastBlock: {
      if (file.unsynced.empty()) return actual == file.durable;
      std::string image = file.durable;
      for (size_t i = 0; i + 1 < file.unsynced.size(); ++i) ApplyModelWrite(image, file.unsynced[i]);
      ModelWrite last = file.unsynced.back();
      if (last.truncate) {
        std::string truncated = image;
        ApplyModelWrite(truncated, last);
        return actual == image || actual == truncated;
      }
      for (size_t kept = 0; kept <= last.bytes.size(); ++kept) {
        std::string torn = image;
        ApplyModelWrite(torn, {false, last.offset, last.bytes.substr(0, kept)});
        if (actual == torn) return true;
      }
      return false;
    }
  }
  return false;
}

// Random operations on `fs`, then a crash of `kind` under `crash_model`;
// returns what the operations did.
Model OperationsThenCrash(SimFileSystem& fs, CrashKind kind, CrashModel crash_model, PrngSource& decisions) {
  Model model;
  RunOperations(fs, model);
  RC_ASSERT(fs.Crash(kind, crash_model, decisions).ok());
  return model;
}

RC_GTEST_PROP(CrashModelProperty, PowerLossKeepsWhatTheModelPromises, (uint64_t seed)) {
  const CrashModel crash_model = *rc::gen::element(CrashModel::kDropAllUnsynced, CrashModel::kRandomPrefix,
                                                   CrashModel::kRandomBlocks, CrashModel::kTornLastBlock);
  SimFileSystem fs;
  PrngSource decisions(seed);
  const Model model = OperationsThenCrash(fs, CrashKind::kPowerLoss, crash_model, decisions);
  const bool drops_everything = crash_model == CrashModel::kDropAllUnsynced;
  if (drops_everything) CheckNames(fs, model.durable_entries);
  const std::vector<std::string> names = Names(fs);
  for (const std::string name : {"a", "b", "c"}) {
    const std::set<std::optional<int>> possible = PossibleBindings(model, name, drops_everything);
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      RC_ASSERT(possible.contains(std::nullopt));
      continue;
    }
    const std::string actual = ReadAll(fs, name);
    bool allowed = false;
    for (const std::optional<int>& id : possible) allowed |= id && Allowed(crash_model, model.files.at(*id), actual);
    RC_ASSERT(allowed);
  }
  for (const std::string& name : names) RC_ASSERT(name == "a" || name == "b" || name == "c");
  // The crash left nothing dirty: a second power loss changes nothing.
  std::map<std::string, std::string> after;
  for (const std::string& name : names) after[name] = ReadAll(fs, name);
  RC_ASSERT(fs.Crash(CrashKind::kPowerLoss, CrashModel::kDropAllUnsynced, decisions).ok());
  RC_ASSERT(Names(fs) == names);
  for (const auto& [name, content] : after) RC_ASSERT(ReadAll(fs, name) == content);
}

RC_GTEST_PROP(CrashModelProperty, ProcessCrashKeepsEveryCompletedWrite, (uint64_t seed)) {
  SimFileSystem fs;
  PrngSource decisions(seed);
  const Model model = OperationsThenCrash(fs, CrashKind::kProcessCrash, CrashModel::kDropAllUnsynced, decisions);
  CheckNames(fs, model.entries);
  for (const auto& [name, id] : model.entries) {
    RC_ASSERT(ReadAll(fs, name) == model.files.at(id).Volatile());
  }
}

}  // namespace
}  // namespace sim
