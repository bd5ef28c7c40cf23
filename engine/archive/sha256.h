// SHA-256 (OpenSSL's EVP interface), as lowercase hex.
#pragma once

#include <string>
#include <string_view>

namespace engine {

std::string Sha256Hex(std::string_view data);

}  // namespace engine
