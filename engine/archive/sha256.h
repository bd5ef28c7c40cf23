// SHA-256 (OpenSSL's EVP interface), as lowercase hex: of a whole string, or
// incrementally over a stream (archives are hashed while they are written
// and read, in bounded chunks).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace engine {

std::string Sha256Hex(std::string_view data);

// One digest computed over consecutive Update calls: equal to Sha256Hex of
// their concatenation.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // REQUIRES: not finished.
  void Update(std::string_view data);
  // The digest of everything updated so far. REQUIRES: not finished; after
  // it, the hasher takes nothing more.
  std::string FinishHex();
  uint64_t bytes() const { return bytes_; }

 private:
  evp_md_ctx_st* context_;
  uint64_t bytes_ = 0;
  bool finished_ = false;
};

}  // namespace engine
