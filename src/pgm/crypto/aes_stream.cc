#include "pgm/crypto/aes_stream.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pgm/core/scope_exit.h"
#include "pgm/crypto/aes_internal.h"

namespace pgm::crypto {
namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, void (*)(EVP_CIPHER_CTX*)>;

constexpr size_t kHeaderLength = kSaltLength + kIvLength;
// Length fields of the EVP API are int: input goes in steps of at most this.
constexpr size_t kMaxStep = size_t{1} << 30;

using internal::cipher_for;

Result<void> check_arguments(const MasterKey& key, AesMode mode) {
  if (cipher_for(mode) == nullptr) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("aes: invalid encryption mode {}", static_cast<int>(mode)));
  }
  if (key.bytes.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "aes: empty master key");
  }
  return {};
}

tl::unexpected<Error> openssl_error(std::string_view what) {
  return make_error(ErrorCode::kInternal, fmt::format("aes: {} failed", what));
}

tl::unexpected<Error> auth_failed(AesMode mode, std::string_view detail) {
  return make_error(ErrorCode::kCorruption,
                    fmt::format("aes: {} authentication failed (wrong key or damaged file){}",
                                aes_mode_name(mode), detail));
}

Result<CipherCtx> new_context() {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx) {
    return openssl_error("EVP_CIPHER_CTX_new");
  }
  return ctx;
}

// Appends the GCM transform of `in` (same length) to `out`.
Result<void> transform(EVP_CIPHER_CTX* ctx, bool encrypt, std::span<const uint8_t> in,
                       std::vector<uint8_t>& out) {
  size_t base = out.size();
  out.resize(base + in.size());
  for (size_t pos = 0; pos < in.size();) {
    int n = static_cast<int>(std::min(in.size() - pos, kMaxStep));
    int len = 0;
    int ok = encrypt ? EVP_EncryptUpdate(ctx, out.data() + base + pos, &len, in.data() + pos, n)
                     : EVP_DecryptUpdate(ctx, out.data() + base + pos, &len, in.data() + pos, n);
    if (ok != 1 || len != n) {
      out.resize(base);
      return openssl_error(encrypt ? "EVP_EncryptUpdate" : "EVP_DecryptUpdate");
    }
    pos += static_cast<size_t>(n);
  }
  return {};
}

// Runs `op` unless the object already failed or finished; remembers a failure.
template <typename Op>
Result<void> guarded(std::optional<Error>& failed, bool finished, Op op) {
  if (failed) {
    return tl::unexpected<Error>(*failed);
  }
  if (finished) {
    return make_error(ErrorCode::kInvalidArgument, "aes: stream already finished");
  }
  Result<void> r = op();
  if (!r) {
    failed = r.error();
  }
  return r;
}

}  // namespace

// ---- AesGcmEncryptor --------------------------------------------------------------------

struct AesGcmEncryptor::Impl {
  Result<void> update(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
    emit_header(out);
    return transform(ctx.get(), true, in, out);
  }

  Result<void> finish(std::vector<uint8_t>& out) {
    emit_header(out);
    uint8_t rest[EVP_MAX_BLOCK_LENGTH];
    int len = 0;
    if (EVP_EncryptFinal_ex(ctx.get(), rest, &len) != 1 || len != 0) {
      return openssl_error("EVP_EncryptFinal_ex");
    }
    std::array<uint8_t, kTagLength> tag{};
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagLength),
                            tag.data()) != 1) {
      return openssl_error("EVP_CTRL_GCM_GET_TAG");
    }
    out.insert(out.end(), tag.begin(), tag.end());
    return {};
  }

  void emit_header(std::vector<uint8_t>& out) {
    if (!header_emitted) {
      out.insert(out.end(), header.begin(), header.end());
      header_emitted = true;
    }
  }

  CipherCtx ctx{nullptr, EVP_CIPHER_CTX_free};
  std::array<uint8_t, kHeaderLength> header{};
  bool header_emitted = false;
  bool finished = false;
  std::optional<Error> failed;
};

namespace internal {

Result<AesGcmEncryptor> make_encryptor_with(const MasterKey& key, AesMode mode,
                                            std::span<const uint8_t> salt,
                                            std::span<const uint8_t> iv) {
  PGM_TRY(check_arguments(key, mode));
  if (iv.size() != kIvLength) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("aes: IV must be {} bytes, got {}", kIvLength, iv.size()));
  }
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> aes_key, derive_buffer_key(key, mode, salt));
  ScopeExit wipe([&aes_key] { OPENSSL_cleanse(aes_key.data(), aes_key.size()); });
  auto impl = std::make_unique<AesGcmEncryptor::Impl>();
  PGM_ASSIGN_OR_RETURN(impl->ctx, new_context());
  // The GCM default IV length is 12 bytes, as the buffer format uses.
  if (EVP_EncryptInit_ex(impl->ctx.get(), cipher_for(mode), nullptr, aes_key.data(), iv.data()) !=
      1) {
    return openssl_error("EVP_EncryptInit_ex");
  }
  std::copy(salt.begin(), salt.end(), impl->header.begin());
  std::copy(iv.begin(), iv.end(), impl->header.begin() + kSaltLength);
  return AesGcmEncryptor(std::move(impl));
}

}  // namespace internal

AesGcmEncryptor::AesGcmEncryptor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AesGcmEncryptor::~AesGcmEncryptor() = default;
AesGcmEncryptor::AesGcmEncryptor(AesGcmEncryptor&& other) noexcept = default;
AesGcmEncryptor& AesGcmEncryptor::operator=(AesGcmEncryptor&& other) noexcept = default;

Result<AesGcmEncryptor> AesGcmEncryptor::create(const MasterKey& key, AesMode mode) {
  PGM_TRY(check_arguments(key, mode));
  uint8_t salt[kSaltLength];
  uint8_t iv[kIvLength];
  if (RAND_bytes(salt, sizeof(salt)) != 1 || RAND_bytes(iv, sizeof(iv)) != 1) {
    return openssl_error("RAND_bytes");
  }
  return internal::make_encryptor_with(key, mode, salt, iv);
}

Result<void> AesGcmEncryptor::update(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  Impl& s = *impl_;
  return guarded(s.failed, s.finished, [&] { return s.update(in, out); });
}

Result<void> AesGcmEncryptor::finish(std::vector<uint8_t>& out) {
  Impl& s = *impl_;
  Result<void> r = guarded(s.failed, s.finished, [&] { return s.finish(out); });
  s.finished = true;
  return r;
}

// ---- AesGcmDecryptor --------------------------------------------------------------------

struct AesGcmDecryptor::Impl {
  Impl(MasterKey k, AesMode m) : key(std::move(k)), mode(m) {}
  ~Impl() { OPENSSL_cleanse(key.bytes.data(), key.bytes.size()); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Result<void> update(std::span<const uint8_t> in, std::vector<uint8_t>& out);
  Result<void> finish();
  Result<void> start();  // the header is complete: derive the key, set up the cipher

  MasterKey key;  // a copy: the salt, hence the key, is known only once the header arrived
  AesMode mode;
  CipherCtx ctx{nullptr, EVP_CIPHER_CTX_free};
  std::array<uint8_t, kHeaderLength> header{};
  size_t header_len = 0;
  std::array<uint8_t, kTagLength> tail{};  // the last bytes seen: possibly the tag
  size_t tail_len = 0;
  uint64_t bytes_in = 0;
  bool finished = false;
  std::optional<Error> failed;
};

Result<void> AesGcmDecryptor::Impl::start() {
  std::span<const uint8_t> salt(header.data(), kSaltLength);
  std::span<const uint8_t> iv(header.data() + kSaltLength, kIvLength);
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> aes_key, derive_buffer_key(key, mode, salt));
  ScopeExit wipe([&aes_key] { OPENSSL_cleanse(aes_key.data(), aes_key.size()); });
  PGM_ASSIGN_OR_RETURN(ctx, new_context());
  if (EVP_DecryptInit_ex(ctx.get(), cipher_for(mode), nullptr, aes_key.data(), iv.data()) != 1) {
    return openssl_error("EVP_DecryptInit_ex");
  }
  return {};
}

Result<void> AesGcmDecryptor::Impl::update(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  bytes_in += in.size();
  if (header_len < kHeaderLength) {
    size_t n = std::min(kHeaderLength - header_len, in.size());
    std::copy_n(in.begin(), n, header.begin() + static_cast<ptrdiff_t>(header_len));
    header_len += n;
    in = in.subspan(n);
    if (header_len == kHeaderLength) {
      PGM_TRY(start());
    }
  }
  // Everything but the last kTagLength bytes of (tail || in) is ciphertext.
  size_t total = tail_len + in.size();
  if (total <= kTagLength) {
    std::copy(in.begin(), in.end(), tail.begin() + static_cast<ptrdiff_t>(tail_len));
    tail_len = total;
    return {};
  }
  size_t emit = total - kTagLength;
  size_t from_tail = std::min(tail_len, emit);
  PGM_TRY(transform(ctx.get(), false, std::span<const uint8_t>(tail.data(), from_tail), out));
  size_t from_in = emit - from_tail;
  PGM_TRY(transform(ctx.get(), false, in.first(from_in), out));
  // New tail: what is left of the old tail, then the rest of `in`.
  size_t keep = tail_len - from_tail;
  std::memmove(tail.data(), tail.data() + from_tail, keep);
  std::copy(in.begin() + static_cast<ptrdiff_t>(from_in), in.end(),
            tail.begin() + static_cast<ptrdiff_t>(keep));
  tail_len = kTagLength;
  return {};
}

Result<void> AesGcmDecryptor::Impl::finish() {
  if (header_len < kHeaderLength || tail_len < kTagLength) {
    return auth_failed(mode, fmt::format(": input of {} bytes is shorter than the {}-byte salt, "
                                         "IV and tag",
                                         bytes_in, kHeaderLength + kTagLength));
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagLength),
                          tail.data()) != 1) {
    return openssl_error("EVP_CTRL_GCM_SET_TAG");
  }
  uint8_t rest[EVP_MAX_BLOCK_LENGTH];
  int len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), rest, &len) != 1) {
    return auth_failed(mode, "");
  }
  return {};
}

AesGcmDecryptor::AesGcmDecryptor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AesGcmDecryptor::~AesGcmDecryptor() = default;
AesGcmDecryptor::AesGcmDecryptor(AesGcmDecryptor&& other) noexcept = default;
AesGcmDecryptor& AesGcmDecryptor::operator=(AesGcmDecryptor&& other) noexcept = default;

Result<AesGcmDecryptor> AesGcmDecryptor::create(const MasterKey& key, AesMode mode) {
  PGM_TRY(check_arguments(key, mode));
  return AesGcmDecryptor(std::make_unique<Impl>(key, mode));
}

Result<void> AesGcmDecryptor::update(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  Impl& s = *impl_;
  return guarded(s.failed, s.finished, [&] { return s.update(in, out); });
}

Result<void> AesGcmDecryptor::finish(std::vector<uint8_t>& /*out*/) {
  Impl& s = *impl_;
  Result<void> r = guarded(s.failed, s.finished, [&] { return s.finish(); });
  s.finished = true;
  return r;
}

}  // namespace pgm::crypto
