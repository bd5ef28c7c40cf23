#include "sim/fs/data_crash.h"

#include <algorithm>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace sim {

namespace {

constexpr uint64_t kBlockBytes = SimFileSystem::kBlockBytes;

std::string BlockOf(const std::string& image, uint64_t block) {
  std::string out(kBlockBytes, '\0');
  const uint64_t start = block * kBlockBytes;
  if (start < image.size()) {
    const uint64_t count = std::min<uint64_t>(kBlockBytes, image.size() - start);
    std::copy_n(image.data() + start, count, out.data());
  }
  return out;
}

DataCrashOutcome KeepPrefix(const std::string& durable, std::span<const LogEntry> log, size_t kept) {
  DataCrashOutcome outcome{std::nullopt, std::nullopt, {}};
  if (kept > 0) {
    outcome.image = durable;
    for (size_t i = 0; i < kept; ++i) ApplyLogEntry(*outcome.image, log[i]);
  }
  if (kept < log.size()) {
    outcome.fault = FaultClass::kLostUnsynced;
    outcome.detail = fmt::format("kept {} of {} unsynced writes", kept, log.size());
  }
  return outcome;
}

DataCrashOutcome MixBlocks(std::string base, const std::string& full, DecisionSource& decisions) {
  if (full == base) return {std::move(base), std::nullopt, {}};
  const uint64_t size =
      full.size() == base.size() || decisions.Draw(2) == 0 ? full.size() : base.size();
  const uint64_t blocks = (size + kBlockBytes - 1) / kBlockBytes;
  std::string mixed;
  uint64_t changed_blocks = 0;
  uint64_t kept_blocks = 0;
  for (uint64_t block = 0; block < blocks; ++block) {
    const std::string old_block = BlockOf(base, block);
    const std::string new_block = BlockOf(full, block);
    if (old_block == new_block) {
      mixed += new_block;
      continue;
    }
    ++changed_blocks;
    const bool kept = decisions.Draw(2) == 0;
    kept_blocks += kept ? 1 : 0;
    mixed += kept ? new_block : old_block;
  }
  mixed.resize(size);
  DataCrashOutcome outcome{std::move(mixed), std::nullopt, {}};
  if (kept_blocks < changed_blocks || size != full.size()) {
    outcome.fault = FaultClass::kLostUnsynced;
    outcome.detail = fmt::format("kept {} of {} changed {}-byte blocks; size {} of {} bytes", kept_blocks,
                                 changed_blocks, kBlockBytes, size, full.size());
  }
  return outcome;
}

DataCrashOutcome TearLast(const std::string& durable, std::span<const LogEntry> log, DecisionSource& decisions) {
  std::string image = durable;
  for (size_t i = 0; i + 1 < log.size(); ++i) ApplyLogEntry(image, log[i]);
  DataCrashOutcome outcome{std::move(image), std::nullopt, {}};
  LogEntry last = log.back();
  if (last.truncate) {
    if (decisions.Draw(2) == 0) {
      ApplyLogEntry(*outcome.image, last);
    } else {
      outcome.fault = FaultClass::kLostUnsynced;
      outcome.detail = fmt::format("kept {} of {} unsynced writes (lost a truncate to {} bytes)",
                                   log.size() - 1, log.size(), last.offset);
    }
    return outcome;
  }
  const size_t write_bytes = last.bytes.size();
  const size_t kept_bytes = decisions.Draw(write_bytes + 1);
  last.bytes.resize(kept_bytes);
  ApplyLogEntry(*outcome.image, last);
  if (kept_bytes == 0 && write_bytes > 0) {
    outcome.fault = FaultClass::kLostUnsynced;
    outcome.detail = fmt::format("kept {} of {} unsynced writes", log.size() - 1, log.size());
  } else if (kept_bytes < write_bytes) {
    outcome.fault = FaultClass::kTornWrite;
    outcome.detail = fmt::format("write torn at byte {} of {} (at offset {})", kept_bytes, write_bytes, last.offset);
  }
  return outcome;
}

}  // namespace

DataCrashOutcome ApplyDataCrashModel(CrashModel model, const std::string& durable,
                                     std::span<const LogEntry> log, size_t kept_at_least,
                                     DecisionSource& decisions) {
  SS_ASSERT(kept_at_least <= log.size(), "{} of {} writes must survive", kept_at_least, log.size());
  switch (model) {
    case CrashModel::kDropAllUnsynced:
      return KeepPrefix(durable, log, kept_at_least);
    case CrashModel::kRandomPrefix:
      return KeepPrefix(durable, log, kept_at_least + decisions.Draw(log.size() - kept_at_least + 1));
    case CrashModel::kRandomBlocks: {
      if (log.empty()) return {std::nullopt, std::nullopt, {}};  // MixBlocks would draw nothing either
      std::string base = durable;
      for (size_t i = 0; i < kept_at_least; ++i) ApplyLogEntry(base, log[i]);
      std::string full = base;
      for (size_t i = kept_at_least; i < log.size(); ++i) ApplyLogEntry(full, log[i]);
      return MixBlocks(std::move(base), full, decisions);
    }
    case CrashModel::kTornLastBlock:
      if (kept_at_least == log.size()) return KeepPrefix(durable, log, log.size());
      return TearLast(durable, log, decisions);
  }
  SS_ASSERT(false, "unknown crash model");
  return {};
}

}  // namespace sim
