#include "pgm/crypto/aes.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <memory>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pgm/core/scope_exit.h"
#include "pgm/crypto/aes_internal.h"

namespace pgm::crypto {

const EVP_CIPHER* internal::cipher_for(AesMode m) {
  switch (m) {
    case AesMode::kAes256Gcm:
      return EVP_aes_256_gcm();
    case AesMode::kAes192Gcm:
      return EVP_aes_192_gcm();
    case AesMode::kAes128Gcm:
      return EVP_aes_128_gcm();
    case AesMode::kNone:
      break;
  }
  return nullptr;
}

namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, void (*)(EVP_CIPHER_CTX*)>;

using internal::cipher_for;

Result<void> check_mode(AesMode m) {
  if (cipher_for(m) == nullptr) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("aes: invalid encryption mode {}", static_cast<int>(m)));
  }
  return {};
}

tl::unexpected<Error> openssl_error(std::string_view what) {
  return make_error(ErrorCode::kInternal, fmt::format("aes: {} failed", what));
}

// Length fields of the EVP API are int.
constexpr size_t kMaxBuffer = static_cast<size_t>(INT_MAX) - 64;

}  // namespace

std::optional<AesMode> parse_aes_mode(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n == "none") {
    return AesMode::kNone;
  }
  for (const AesModeInfo& m : kAesModes) {
    if (m.bits.empty()) {
      continue;
    }
    std::string b(m.bits);
    if ((m.mode == AesMode::kAes256Gcm && n == "aes") || n == "aes" + b || n == "aes-" + b ||
        n == "aes-" + b + "-gcm" || n == "aes" + b + "-gcm" || n == "aes" + b + "gcm") {
      return m.mode;
    }
  }
  return std::nullopt;
}

Result<MasterKey> derive_master_key(std::string_view master_password,
                                    std::span<const uint8_t> master_salt) {
  if (master_password.size() > INT_MAX || master_salt.size() > INT_MAX) {
    return make_error(ErrorCode::kInvalidArgument, "aes: master password or salt too long");
  }
  MasterKey key;
  key.bytes.resize(kMasterKeyLength);
  if (PKCS5_PBKDF2_HMAC(master_password.data(), static_cast<int>(master_password.size()),
                        master_salt.data(), static_cast<int>(master_salt.size()), kMasterIterations,
                        EVP_sha256(), static_cast<int>(kMasterKeyLength), key.bytes.data()) != 1) {
    return openssl_error("PBKDF2 (master key)");
  }
  return key;
}

Result<std::vector<uint8_t>> derive_buffer_key(const MasterKey& key, AesMode mode,
                                               std::span<const uint8_t> salt) {
  PGM_TRY(check_mode(mode));
  if (key.bytes.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "aes: empty master key");
  }
  if (salt.size() != kSaltLength) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("aes: salt must be {} bytes, got {}", kSaltLength, salt.size()));
  }
  std::vector<uint8_t> out(aes_key_length(mode));
  if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(key.bytes.data()),
                        static_cast<int>(key.bytes.size()), salt.data(),
                        static_cast<int>(salt.size()), 1, EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    return openssl_error("PBKDF2 (buffer key)");
  }
  return out;
}

namespace internal {

Result<std::vector<uint8_t>> aes_encrypt_with(const MasterKey& key, AesMode mode,
                                              std::span<const uint8_t> plaintext,
                                              std::span<const uint8_t> salt,
                                              std::span<const uint8_t> iv) {
  std::vector<uint8_t> out;
  PGM_TRY(aes_encrypt_with_into(key, mode, plaintext, salt, iv, out));
  return out;
}

Result<void> aes_encrypt_with_into(const MasterKey& key, AesMode mode,
                                   std::span<const uint8_t> plaintext,
                                   std::span<const uint8_t> salt, std::span<const uint8_t> iv,
                                   std::vector<uint8_t>& out) {
  PGM_TRY(check_mode(mode));
  if (iv.size() != kIvLength) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("aes: IV must be {} bytes, got {}", kIvLength, iv.size()));
  }
  if (plaintext.size() > kMaxBuffer) {
    return make_error(ErrorCode::kInvalidArgument, "aes: plaintext too large");
  }
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> aes_key, derive_buffer_key(key, mode, salt));
  ScopeExit wipe([&aes_key] { OPENSSL_cleanse(aes_key.data(), aes_key.size()); });

  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx) {
    return openssl_error("EVP_CIPHER_CTX_new");
  }
  // The GCM default IV length is 12 bytes, as pgmoneta relies on.
  if (EVP_EncryptInit_ex(ctx.get(), cipher_for(mode), nullptr, aes_key.data(), iv.data()) != 1) {
    return openssl_error("EVP_EncryptInit_ex");
  }
  out.resize(kSaltLength + kIvLength + plaintext.size() + kTagLength);
  std::copy(salt.begin(), salt.end(), out.begin());
  std::copy(iv.begin(), iv.end(), out.begin() + kSaltLength);
  uint8_t* ct = out.data() + kSaltLength + kIvLength;
  int len = 0;
  if (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), ct, &len, plaintext.data(),
                                              static_cast<int>(plaintext.size())) != 1) {
    return openssl_error("EVP_EncryptUpdate");
  }
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), ct + len, &final_len) != 1) {
    return openssl_error("EVP_EncryptFinal_ex");
  }
  if (static_cast<size_t>(len + final_len) != plaintext.size()) {
    return openssl_error("GCM length check");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagLength),
                          ct + plaintext.size()) != 1) {
    return openssl_error("EVP_CTRL_GCM_GET_TAG");
  }
  return {};
}

}  // namespace internal

Result<std::vector<uint8_t>> aes_encrypt(const MasterKey& key, AesMode mode,
                                         std::span<const uint8_t> plaintext) {
  uint8_t salt[kSaltLength];
  uint8_t iv[kIvLength];
  if (RAND_bytes(salt, sizeof(salt)) != 1 || RAND_bytes(iv, sizeof(iv)) != 1) {
    return openssl_error("RAND_bytes");
  }
  return internal::aes_encrypt_with(key, mode, plaintext, salt, iv);
}

Result<void> aes_encrypt_into(const MasterKey& key, AesMode mode,
                              std::span<const uint8_t> plaintext, std::vector<uint8_t>& out) {
  uint8_t salt[kSaltLength];
  uint8_t iv[kIvLength];
  if (RAND_bytes(salt, sizeof(salt)) != 1 || RAND_bytes(iv, sizeof(iv)) != 1) {
    return openssl_error("RAND_bytes");
  }
  return internal::aes_encrypt_with_into(key, mode, plaintext, salt, iv, out);
}

Result<std::vector<uint8_t>> aes_decrypt(const MasterKey& key, AesMode mode,
                                         std::span<const uint8_t> buffer) {
  PGM_TRY(check_mode(mode));
  constexpr size_t kOverhead = kSaltLength + kIvLength + kTagLength;
  if (buffer.size() < kOverhead) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("aes: encrypted buffer of {} bytes is shorter than the {}-byte "
                                  "salt, IV and tag",
                                  buffer.size(), kOverhead));
  }
  if (buffer.size() > kMaxBuffer) {
    return make_error(ErrorCode::kInvalidArgument, "aes: encrypted buffer too large");
  }
  std::span<const uint8_t> salt = buffer.subspan(0, kSaltLength);
  std::span<const uint8_t> iv = buffer.subspan(kSaltLength, kIvLength);
  std::span<const uint8_t> ct = buffer.subspan(kSaltLength + kIvLength, buffer.size() - kOverhead);
  std::span<const uint8_t> tag = buffer.subspan(buffer.size() - kTagLength);

  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> aes_key, derive_buffer_key(key, mode, salt));
  ScopeExit wipe([&aes_key] { OPENSSL_cleanse(aes_key.data(), aes_key.size()); });

  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx) {
    return openssl_error("EVP_CIPHER_CTX_new");
  }
  if (EVP_DecryptInit_ex(ctx.get(), cipher_for(mode), nullptr, aes_key.data(), iv.data()) != 1) {
    return openssl_error("EVP_DecryptInit_ex");
  }
  std::vector<uint8_t> out(ct.size() + 16);
  int len = 0;
  if (!ct.empty() &&
      EVP_DecryptUpdate(ctx.get(), out.data(), &len, ct.data(), static_cast<int>(ct.size())) != 1) {
    return openssl_error("EVP_DecryptUpdate");
  }
  std::vector<uint8_t> tag_copy(tag.begin(), tag.end());
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagLength),
                          tag_copy.data()) != 1) {
    return openssl_error("EVP_CTRL_GCM_SET_TAG");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &final_len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return make_error(ErrorCode::kCorruption,
                      fmt::format("aes: {} authentication failed (wrong master key or modified "
                                  "data)",
                                  aes_mode_name(mode)));
  }
  out.resize(static_cast<size_t>(len + final_len));
  return out;
}

}  // namespace pgm::crypto
