// Module-private pieces of the AES code shared by aes.cc and aes_stream.cc. Thread-safe.
#pragma once

#include "pgm/crypto/aes.h"

struct evp_cipher_st;  // OpenSSL's EVP_CIPHER, kept out of this header

namespace pgm::crypto::internal {

// The OpenSSL GCM cipher of a mode; nullptr for kNone.
const evp_cipher_st* cipher_for(AesMode m);

}  // namespace pgm::crypto::internal
