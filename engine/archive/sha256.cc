#include "engine/archive/sha256.h"

#include <openssl/evp.h>

#include <fmt/format.h>

#include "engine/common/assert.h"

namespace engine {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  SS_ASSERT(EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) == 1,
            "SHA-256 failed");
  SS_ASSERT(length == 32, "a SHA-256 digest of {} bytes", length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  // What manifests and `.checksum` sidecars hold, compared as text.
  SS_ASSERT(hex.size() == 64);
  return hex;
}

}  // namespace engine
