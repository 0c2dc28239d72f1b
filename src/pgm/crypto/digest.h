// Message digests over OpenSSL EVP: streaming SHA-512 (backup.sha512, manifests, off-site
// integrity), one-shot SHA-256, MD5 and HMAC-SHA256 (SCRAM, S3 SigV4, Azure SharedKey), and
// lower-case hex. Free functions are thread-safe; a Sha512 object is used by one thread at a
// time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pgm/core/result.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace pgm::crypto {

using Sha512Digest = std::array<uint8_t, 64>;
using Sha256Digest = std::array<uint8_t, 32>;
using Md5Digest = std::array<uint8_t, 16>;

// Streaming SHA-512 over one reused OpenSSL context.
class Sha512 {
 public:
  static Result<Sha512> create();

  Sha512(Sha512&&) noexcept;
  Sha512& operator=(Sha512&&) noexcept;
  Sha512(const Sha512&) = delete;
  Sha512& operator=(const Sha512&) = delete;
  ~Sha512();

  void update(std::span<const uint8_t> data);
  void update(std::string_view data);
  // The digest of everything since creation or the last reset(); then resets.
  Sha512Digest final();
  // Starts a new digest, discarding input so far.
  void reset();

  // Lower-case hex of a digest (128 characters).
  static std::string hex(const Sha512Digest& digest);

 private:
  struct CtxDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  explicit Sha512(std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx);

  std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx_;
};

// True for 128 hex digits (either case).
bool is_sha512_hex(std::string_view text);
// The digest 128 hex digits (either case) spell; nullopt for anything else.
std::optional<Sha512Digest> sha512_from_hex(std::string_view text);

// SHA-512 (lower-case hex) of a file's bytes, read in 1 MiB chunks. Errors name the path.
Result<std::string> sha512_of_file(const std::string& path);

// One-shot digests of a buffer.
Sha256Digest sha256(std::span<const uint8_t> data);
Md5Digest md5(std::span<const uint8_t> data);
Sha256Digest hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> data);

// Lower-case hex of bytes.
std::string to_hex(std::span<const uint8_t> bytes);

// The bytes of a string, for the functions above.
inline std::span<const uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace pgm::crypto
