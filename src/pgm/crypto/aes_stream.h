// Streaming AES-GCM in the buffer format of aes.h (salt[16] || iv[12] || ciphertext || tag[16],
// per-stream key derived from the master key and the salt), byte-compatible with
// aes_encrypt() / aes_decrypt(): either side may be whole-buffer and the other streamed.
// Not thread-safe: one object per stream; objects are move-only.
//
// Output is appended to the caller's vector (never cleared), so one buffer can be reused.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"

namespace pgm::crypto {

class AesGcmEncryptor;

namespace internal {
// An encryptor with a caller-chosen salt (16 bytes) and IV (12 bytes). For known-answer tests
// only: reusing an IV under one key breaks GCM.
Result<AesGcmEncryptor> make_encryptor_with(const MasterKey& key, AesMode mode,
                                            std::span<const uint8_t> salt,
                                            std::span<const uint8_t> iv);
}  // namespace internal

class AesGcmEncryptor {
 public:
  // Random salt and IV. kNone -> kInvalidArgument; empty master key -> kInvalidArgument.
  static Result<AesGcmEncryptor> create(const MasterKey& key, AesMode mode);
  ~AesGcmEncryptor();
  AesGcmEncryptor(AesGcmEncryptor&& other) noexcept;
  AesGcmEncryptor& operator=(AesGcmEncryptor&& other) noexcept;
  AesGcmEncryptor(const AesGcmEncryptor&) = delete;
  AesGcmEncryptor& operator=(const AesGcmEncryptor&) = delete;

  // Appends the ciphertext of `in` (same length) to `out`; the first call also emits the
  // header (salt || IV). After finish() -> kInvalidArgument.
  Result<void> update(std::span<const uint8_t> in, std::vector<uint8_t>& out);
  // Appends the header if nothing was emitted yet, then the 16-byte tag.
  Result<void> finish(std::vector<uint8_t>& out);

 private:
  struct Impl;
  explicit AesGcmEncryptor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend Result<AesGcmEncryptor> internal::make_encryptor_with(const MasterKey&, AesMode,
                                                               std::span<const uint8_t>,
                                                               std::span<const uint8_t>);
};

// Decrypted bytes are emitted before the tag is checked: they are UNAUTHENTICATED until
// finish() succeeds. Write them somewhere disposable (an uncommitted AtomicFile) and act on
// them only after finish().
class AesGcmDecryptor {
 public:
  // kNone -> kInvalidArgument; empty master key -> kInvalidArgument.
  static Result<AesGcmDecryptor> create(const MasterKey& key, AesMode mode);
  ~AesGcmDecryptor();
  AesGcmDecryptor(AesGcmDecryptor&& other) noexcept;
  AesGcmDecryptor& operator=(AesGcmDecryptor&& other) noexcept;
  AesGcmDecryptor(const AesGcmDecryptor&) = delete;
  AesGcmDecryptor& operator=(const AesGcmDecryptor&) = delete;

  // Feeds encrypted bytes (split anywhere) and appends the plaintext to `out`, holding back
  // the last 16 bytes seen (they may be the tag). After finish() -> kInvalidArgument.
  Result<void> update(std::span<const uint8_t> in, std::vector<uint8_t>& out);
  // Checks the tag. Mismatch (wrong key, wrong mode, modified bytes) or input shorter than
  // header and tag -> kCorruption "aes: <mode> authentication failed (wrong key or damaged
  // file)...". Appends nothing for GCM, but takes `out` for symmetry.
  Result<void> finish(std::vector<uint8_t>& out);

 private:
  struct Impl;
  explicit AesGcmDecryptor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgm::crypto
