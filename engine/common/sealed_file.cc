#include "engine/common/sealed_file.h"

#include <fmt/format.h>

#include "engine/common/assert.h"
#include "engine/common/checksum.h"
#include "engine/common/coverage.h"
#include "engine/common/file_util.h"

namespace engine {

namespace {
constexpr std::string_view kSealPrefix = "crc32c ";
// "crc32c " + 8 hex digits + "\n"
constexpr size_t kSealBytes = kSealPrefix.size() + 8 + 1;
}  // namespace

std::string Seal(std::string_view body) {
  std::string sealed(body);
  if (sealed.empty() || sealed.back() != '\n') sealed.push_back('\n');
  // The seal covers exactly the bytes before it, newline included.
  sealed += fmt::format("{}{:08x}\n", kSealPrefix, Crc32c(sealed));
  // Sealed then unsealed, in memory, the body comes back (less the newline
  // the seal line needs before it).
  const auto unsealed = Unseal(sealed, "(sealing)");
  SS_ASSERT(unsealed.ok() && *unsealed == body.substr(0, body.ends_with('\n') ? body.size() - 1 : body.size()),
            "a sealed body does not unseal to itself");
  return sealed;
}

absl::StatusOr<std::string> Unseal(std::string_view contents, std::string_view path) {
  const auto damaged = [&](std::string_view why) {
    SS_COVER(kDamageDetected);
    return absl::DataLossError(fmt::format("{}: {} (the file is damaged)", path, why));
  };
  if (contents.size() < kSealBytes + 1) return damaged("too short for its checksum line");
  const std::string_view covered = contents.substr(0, contents.size() - kSealBytes);
  const std::string_view seal = contents.substr(contents.size() - kSealBytes);
  if (covered.back() != '\n' || !seal.starts_with(kSealPrefix) || seal.back() != '\n') {
    return damaged("no checksum line");
  }
  const std::string_view digits = seal.substr(kSealPrefix.size(), 8);
  SS_ASSERT(digits.size() == 8);
  uint32_t expected = 0;
  for (char digit : digits) {
    int value = -1;
    if (digit >= '0' && digit <= '9') value = digit - '0';
    if (digit >= 'a' && digit <= 'f') value = digit - 'a' + 10;
    if (value < 0) return damaged("malformed checksum line");
    expected = (expected << 4) | static_cast<uint32_t>(value);
  }
  if (Crc32c(covered) != expected) return damaged("checksum mismatch");
  return std::string(covered.substr(0, covered.size() - 1));
}

absl::Status WriteSealedFileAtomically(FileSystem& fs, std::string_view path, std::string_view body) {
  return WriteFileAtomically(fs, path, Seal(body));
}

absl::StatusOr<std::string> ReadSealedFile(FileSystem& fs, std::string_view path) {
  auto contents = ReadWholeFile(fs, path);
  if (!contents.ok()) return contents.status();
  return Unseal(*contents, path);
}

}  // namespace engine
