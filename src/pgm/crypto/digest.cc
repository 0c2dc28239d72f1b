#include "pgm/crypto/digest.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pgm/core/unique_fd.h"
#include "pgm/io/fd.h"

namespace pgm::crypto {
namespace {

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// One-shot EVP digest; `out` must hold the digest's size.
void digest(const EVP_MD* md, std::span<const uint8_t> data, std::span<uint8_t> out) {
  unsigned int length = 0;
  // Fails only when OpenSSL cannot allocate or the algorithm is missing: not recoverable here.
  PGM_CHECK(EVP_Digest(data.data(), data.size(), out.data(), &length, md, nullptr) == 1);
  PGM_CHECK(length == out.size());
}

}  // namespace

void Sha512::CtxDeleter::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha512::Sha512(std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx) : ctx_(std::move(ctx)) {}
Sha512::Sha512(Sha512&&) noexcept = default;
Sha512& Sha512::operator=(Sha512&&) noexcept = default;
Sha512::~Sha512() = default;

Result<Sha512> Sha512::create() {
  std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr) != 1) {
    return make_error(ErrorCode::kInternal, "sha512: cannot initialise an OpenSSL digest");
  }
  return Sha512(std::move(ctx));
}

void Sha512::update(std::span<const uint8_t> data) {
  if (data.empty()) {
    return;
  }
  // Fails only on a context in a wrong state, i.e. a bug.
  PGM_CHECK(EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) == 1);
}

void Sha512::update(std::string_view data) { update(bytes_of(data)); }

Sha512Digest Sha512::final() {
  Sha512Digest digest{};
  unsigned int length = 0;
  PGM_CHECK(EVP_DigestFinal_ex(ctx_.get(), digest.data(), &length) == 1);
  PGM_CHECK(length == digest.size());
  reset();
  return digest;
}

void Sha512::reset() { PGM_CHECK(EVP_DigestInit_ex(ctx_.get(), EVP_sha512(), nullptr) == 1); }

std::string Sha512::hex(const Sha512Digest& digest) { return to_hex(digest); }

bool is_sha512_hex(std::string_view text) {
  return text.size() == 128 && std::all_of(text.begin(), text.end(), is_hex_digit);
}

std::optional<Sha512Digest> sha512_from_hex(std::string_view text) {
  if (!is_sha512_hex(text)) {
    return std::nullopt;
  }
  auto nibble = [](char c) {
    return static_cast<uint8_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  };
  Sha512Digest d{};
  for (size_t i = 0; i < d.size(); ++i) {
    d[i] = static_cast<uint8_t>(nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]));
  }
  return d;
}

Result<std::string> sha512_of_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return make_errno_error(fmt::format("open {}", path), errno);
  }
  PGM_ASSIGN_OR_RETURN(Sha512 sha, Sha512::create());
  std::vector<uint8_t> buf(size_t{1} << 20);
  for (;;) {
    PGM_ASSIGN_OR_RETURN(size_t n, io::read_some(fd.get(), buf, "read", path));
    if (n == 0) {
      break;
    }
    sha.update(std::span<const uint8_t>(buf.data(), n));
  }
  return Sha512::hex(sha.final());
}

Sha256Digest sha256(std::span<const uint8_t> data) {
  Sha256Digest out{};
  digest(EVP_sha256(), data, out);
  return out;
}

Md5Digest md5(std::span<const uint8_t> data) {
  Md5Digest out{};
  digest(EVP_md5(), data, out);
  return out;
}

Sha256Digest hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  Sha256Digest out{};
  unsigned int length = 0;
  const unsigned char* rc = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                 data.data(), data.size(), out.data(), &length);
  PGM_CHECK(rc != nullptr && length == out.size());
  return out;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

}  // namespace pgm::crypto
