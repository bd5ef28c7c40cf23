// The fuzz_wal input format, shared by the fuzzer and the corpus generator:
//
//   input  := flags:u8 record*
//   record := name_len:u8 name[name_len] size:u16le contents[size]
//
// Each record becomes one entry of the WAL directory: a file named `name`
// with `contents`, or, when the name ends with '/', a directory. Sizes and
// names running past the end of the input are cut short, so every byte
// string is a valid input. The names are spelled out (not encoded as
// numbers) so that mutations also reach the WAL's file-name parsing and the
// dictionary's "wal-000..." tokens apply directly. flags: bits 0-1 pick the
// segment capacity used for the appends made after a successful open.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fuzz {

struct WalFile {
  std::string name;
  std::string contents;
};

struct WalInput {
  uint8_t flags = 0;
  std::vector<WalFile> files;
};

inline WalInput DecodeWalInput(std::string_view data) {
  WalInput input;
  if (data.empty()) return input;
  input.flags = static_cast<uint8_t>(data[0]);
  data.remove_prefix(1);
  while (!data.empty()) {
    WalFile file;
    const size_t name_len = std::min<size_t>(static_cast<uint8_t>(data[0]), data.size() - 1);
    file.name = data.substr(1, name_len);
    data.remove_prefix(1 + name_len);
    size_t size = 0;
    if (data.size() >= 2) {
      size = static_cast<uint8_t>(data[0]) | (size_t{static_cast<uint8_t>(data[1])} << 8);
      data.remove_prefix(2);
    } else {
      data = {};
    }
    size = std::min(size, data.size());
    file.contents = data.substr(0, size);
    data.remove_prefix(size);
    input.files.push_back(std::move(file));
  }
  return input;
}

// REQUIRES: names shorter than 256 bytes, contents shorter than 64 KiB.
inline std::string EncodeWalInput(const WalInput& input) {
  std::string out(1, static_cast<char>(input.flags));
  for (const WalFile& file : input.files) {
    out.push_back(static_cast<char>(file.name.size()));
    out += file.name;
    out.push_back(static_cast<char>(file.contents.size() & 0xff));
    out.push_back(static_cast<char>(file.contents.size() >> 8));
    out += file.contents;
  }
  return out;
}

}  // namespace fuzz
