#include "engine/archive/sha256.h"

#include <openssl/evp.h>

#include "engine/common/assert.h"

namespace engine {

namespace {
// Fetched once: passing EVP_sha256() fetches the implementation anew on
// every call (OpenSSL 3), which cost more than hashing a small file. Never
// freed: it lives as long as the process.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    SS_ASSERT(fetched != nullptr, "SHA-256 is not available");
    return fetched;
  }();
  return md;
}

std::string Hex(const unsigned char* digest, unsigned int length) {
  SS_ASSERT(length == 32, "a SHA-256 digest of {} bytes", length);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(2 * length, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kDigits[digest[i] >> 4];
    hex[2 * i + 1] = kDigits[digest[i] & 0xf];
  }
  // What manifests and `.checksum` sidecars hold, compared as text.
  SS_ASSERT(hex.size() == 64);
  return hex;
}
}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  SS_ASSERT(EVP_Digest(data.data(), data.size(), digest, &length, Sha256Md(), nullptr) == 1, "SHA-256 failed");
  return Hex(digest, length);
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  SS_ASSERT(context_ != nullptr, "out of memory for a SHA-256 context");
  SS_ASSERT(EVP_DigestInit_ex(context_, Sha256Md(), nullptr) == 1, "SHA-256 init failed");
}

Sha256::~Sha256() { EVP_MD_CTX_free(context_); }

void Sha256::Update(std::string_view data) {
  SS_ASSERT(!finished_, "SHA-256 updated after its digest was taken");
  if (data.empty()) return;
  SS_ASSERT(EVP_DigestUpdate(context_, data.data(), data.size()) == 1, "SHA-256 update failed");
  bytes_ += data.size();
}

std::string Sha256::FinishHex() {
  SS_ASSERT(!finished_, "SHA-256 digest taken twice");
  finished_ = true;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  SS_ASSERT(EVP_DigestFinal_ex(context_, digest, &length) == 1, "SHA-256 final failed");
  return Hex(digest, length);
}

}  // namespace engine
