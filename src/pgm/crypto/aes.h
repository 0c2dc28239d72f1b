// AES-GCM in pgmoneta's buffer format, keyed from the master key. Thread-safe.
//
// Verified against pgmoneta's src/libpgmoneta/aes.c (2026 GCM version: pgmoneta_encrypt,
// encrypt_decrypt_buffer, encrypt_file, derive_key_iv):
//
//   master = PBKDF2-HMAC-SHA256(password = master password bytes (line 1 of master.key,
//                                base64-decoded, no NUL), salt = master salt (16 bytes,
//                                line 2), iterations = 600000, dkLen = 64)
//   key    = PBKDF2-HMAC-SHA256(password = master (64 bytes), salt = per-buffer salt (16),
//                                iterations = 1, dkLen = 80)[0 .. key length)
//            key length 32 / 24 / 16 for AES-256 / 192 / 128-GCM. (pgmoneta asks for 80 bytes
//            and keeps the prefix; PBKDF2 blocks are independent, so this equals dkLen = key
//            length.) The IV is NOT derived: it is 12 random bytes stored in the buffer.
//
//   buffer = salt[16] || iv[12] || ciphertext[n] || tag[16]
//            AES-xxx-GCM, 96-bit IV, no AAD, 128-bit tag at the end; n = plaintext length.
//            Minimum length 44 (empty plaintext).
//
// The same format protects vault passwords (plaintext = the password without NUL, always
// AES-256-GCM), management frames and .aes files.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"

namespace pgm::crypto {

// Values are the management-protocol encryption bytes; backup.info ENCRYPTION uses them too.
enum class AesMode : uint8_t { kNone = 0, kAes256Gcm = 1, kAes192Gcm = 2, kAes128Gcm = 3 };

inline constexpr size_t kSaltLength = 16;
inline constexpr size_t kIvLength = 12;
inline constexpr size_t kTagLength = 16;
inline constexpr size_t kMasterKeyLength = 64;
inline constexpr int kMasterIterations = 600000;

// The one table of encryption modes, in enum order: kAesModes[value] describes AesMode{value}.
// constexpr so that modules below crypto in the layering (config) can use it without linking.
struct AesModeInfo {
  AesMode mode;
  std::string_view name;  // canonical: "none", "aes-256-gcm", ...
  std::string_view bits;  // "256", "192", "128"; "" for kNone
  size_t key_length;      // 32, 24, 16; 0 for kNone
};
inline constexpr std::array<AesModeInfo, 4> kAesModes{{
    {AesMode::kNone, "none", "", 0},
    {AesMode::kAes256Gcm, "aes-256-gcm", "256", 32},
    {AesMode::kAes192Gcm, "aes-192-gcm", "192", 24},
    {AesMode::kAes128Gcm, "aes-128-gcm", "128", 16},
}};

// The mode a management or backup.info ENCRYPTION byte names; nullopt for an unknown byte.
constexpr std::optional<AesMode> aes_mode_from_byte(uint8_t code) {
  return code < kAesModes.size() ? std::optional(kAesModes[code].mode) : std::nullopt;
}
// The AES-GCM mode with a key of `bits` ("256", "192", "128"); nullopt otherwise.
constexpr std::optional<AesMode> aes_mode_from_bits(std::string_view bits) {
  for (const AesModeInfo& m : kAesModes) {
    if (!m.bits.empty() && m.bits == bits) {
      return m.mode;
    }
  }
  return std::nullopt;
}
// Canonical name; "unknown" for a value outside the enum.
constexpr std::string_view aes_mode_name(AesMode m) {
  auto mode = aes_mode_from_byte(static_cast<uint8_t>(m));
  return mode ? kAesModes[static_cast<size_t>(*mode)].name : "unknown";
}
// 32, 24 or 16; 0 for kNone.
constexpr size_t aes_key_length(AesMode m) {
  auto mode = aes_mode_from_byte(static_cast<uint8_t>(m));
  return mode ? kAesModes[static_cast<size_t>(*mode)].key_length : 0;
}

// Accepts none, aes, aes256, aes-256, aes-256-gcm, aes192..., aes128... (case-insensitive).
std::optional<AesMode> parse_aes_mode(std::string_view name);

// The derived master key (64 bytes). Deriving costs 600,000 PBKDF2 rounds (~0.3 s), so
// callers derive once per process and pass this around.
struct MasterKey {
  std::vector<uint8_t> bytes;
};

// Any salt length is accepted here; master.key carries 16 bytes.
Result<MasterKey> derive_master_key(std::string_view master_password,
                                    std::span<const uint8_t> master_salt);

// The per-buffer AES key for `salt` (for streaming ciphers built on the same format).
Result<std::vector<uint8_t>> derive_buffer_key(const MasterKey& key, AesMode mode,
                                               std::span<const uint8_t> salt);

// Encrypts with a fresh random salt and IV. kNone -> kInvalidArgument.
Result<std::vector<uint8_t>> aes_encrypt(const MasterKey& key, AesMode mode,
                                         std::span<const uint8_t> plaintext);
// aes_encrypt into `out` (overwritten; its capacity is reused, so encrypting many buffers
// does not allocate fresh memory each time).
Result<void> aes_encrypt_into(const MasterKey& key, AesMode mode,
                              std::span<const uint8_t> plaintext, std::vector<uint8_t>& out);
// Wrong key, truncation or any modified byte -> kCorruption.
Result<std::vector<uint8_t>> aes_decrypt(const MasterKey& key, AesMode mode,
                                         std::span<const uint8_t> buffer);

namespace internal {
// aes_encrypt with a caller-chosen salt (16 bytes) and IV (12 bytes). For known-answer tests
// only: reusing an IV under one key breaks GCM.
Result<std::vector<uint8_t>> aes_encrypt_with(const MasterKey& key, AesMode mode,
                                              std::span<const uint8_t> plaintext,
                                              std::span<const uint8_t> salt,
                                              std::span<const uint8_t> iv);
Result<void> aes_encrypt_with_into(const MasterKey& key, AesMode mode,
                                   std::span<const uint8_t> plaintext,
                                   std::span<const uint8_t> salt, std::span<const uint8_t> iv,
                                   std::vector<uint8_t>& out);
}  // namespace internal

}  // namespace pgm::crypto
