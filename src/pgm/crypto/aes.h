// AES-GCM in pgmoneta's buffer format, keyed from the master key. Thread-safe.
//
// Buffer format (reference §10.2): salt[16] || iv[12] || ciphertext || tag[16].
// master = PBKDF2-HMAC-SHA256(master password, master salt, 600000 iterations, 64 bytes)
// key    = PBKDF2-HMAC-SHA256(master, per-buffer salt, 1 iteration, key length of the mode)
// The same format protects vault passwords, management frames and files.
#pragma once

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

// Accepts none, aes, aes256, aes-256, aes-256-gcm, aes192..., aes128... (case-insensitive).
std::optional<AesMode> parse_aes_mode(std::string_view name);
std::string_view aes_mode_name(AesMode m);

// The derived master key (64 bytes). Deriving costs 600,000 PBKDF2 rounds (~0.3 s), so
// callers derive once per process and pass this around.
struct MasterKey {
  std::vector<uint8_t> bytes;
};

Result<MasterKey> derive_master_key(std::string_view master_password,
                                    std::span<const uint8_t> master_salt);

// Encrypts with a fresh random salt and IV.
Result<std::vector<uint8_t>> aes_encrypt(const MasterKey& key, AesMode mode,
                                         std::span<const uint8_t> plaintext);
// Wrong key, truncation or any modified byte -> kCorruption.
Result<std::vector<uint8_t>> aes_decrypt(const MasterKey& key, AesMode mode,
                                         std::span<const uint8_t> buffer);

}  // namespace pgm::crypto
