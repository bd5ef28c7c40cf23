// Sealed metadata files: small files the engine reads back as a whole
// (segment.json, payload_index.json, the clock maps, the WAL's first-index)
// carry a CRC32C of their contents, so a flipped bit (rot on the disk, or a
// bad read) is a DataLoss error naming the file instead of a wrong value
// parsed as if it were right (a version 26 read as 24 parses fine as JSON).
//
// Format: the body, then a last line "crc32c <8 lowercase hex digits>\n"
// over the body. Bodies are JSON here, but any text without that last line
// works.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/env/env.h"

namespace engine {

// The sealed form of `body`.
std::string Seal(std::string_view body);
// The body of a sealed file's contents, or DataLoss naming `path` when the
// seal is missing or does not match.
absl::StatusOr<std::string> Unseal(std::string_view contents, std::string_view path);

// WriteFileAtomically(Seal(body)): the file is replaced atomically and
// durably (see file_util.h).
absl::Status WriteSealedFileAtomically(FileSystem& fs, std::string_view path, std::string_view body);
// Reads and unseals a whole file. NotFound stays NotFound.
absl::StatusOr<std::string> ReadSealedFile(FileSystem& fs, std::string_view path);

}  // namespace engine
