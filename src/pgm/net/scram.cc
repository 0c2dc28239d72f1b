#include "pgm/net/scram.h"

#include <array>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "pgm/core/markup.h"
#include "pgm/core/scope_exit.h"
#include "pgm/crypto/base64.h"
#include "pgm/crypto/digest.h"
#include "pgm/net/net_internal.h"

namespace pgm::net {
namespace {

constexpr size_t kKeyLength = SHA256_DIGEST_LENGTH;

tl::unexpected<Error> protocol_error(std::string_view what) {
  return make_error(ErrorCode::kProtocol, fmt::format("malformed SCRAM message: {}", what));
}

tl::unexpected<Error> auth_failed() {
  return make_error(ErrorCode::kPermission, std::string(kScramAuthFailed));
}

std::vector<uint8_t> sha256(std::span<const uint8_t> data) {
  crypto::Sha256Digest digest = crypto::sha256(data);
  return {digest.begin(), digest.end()};
}

// printable = %x21-2B / %x2D-7E (RFC 5802), i.e. visible ASCII except ','.
bool valid_nonce(std::string_view nonce) {
  if (nonce.empty()) {
    return false;
  }
  for (char c : nonce) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == ',') {
      return false;
    }
  }
  return true;
}

// saslname: UTF-8 except NUL and ','; '=' only as "=2C" or "=3D".
bool valid_saslname(std::string_view name) {
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '\0') {
      return false;
    }
    if (name[i] == '=') {
      std::string_view esc = name.substr(i + 1, 2);
      if (esc != "2C" && esc != "3D") {
        return false;
      }
      i += 2;
    }
  }
  return true;
}

std::string escape_saslname(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

// Strict base64: alphabet, length a multiple of 4, '=' only as trailing padding.
Result<std::vector<uint8_t>> strict_base64(std::string_view text, std::string_view what) {
  bool ok = text.size() % 4 == 0;
  size_t pad = 0;
  for (size_t i = 0; ok && i < text.size(); ++i) {
    char c = text[i];
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/';
    if (c == '=') {
      ++pad;
      ok = i + 2 >= text.size() && pad <= 2;
    } else {
      ok = alpha && pad == 0;
    }
  }
  if (!ok) {
    return protocol_error(fmt::format("invalid base64 in {}", what));
  }
  auto decoded = crypto::base64_decode(text);
  if (!decoded) {
    return protocol_error(fmt::format("invalid base64 in {}", what));
  }
  return std::move(*decoded);
}

// Reads "<name>=<value>" attributes separated by ','.
class AttrCursor {
 public:
  explicit AttrCursor(std::string_view input) : rest_(input) {}

  bool at_end() const { return rest_.empty(); }
  // The next attribute's name, or '\0' when malformed / at end.
  char peek_name() const { return rest_.size() >= 2 && rest_[1] == '=' ? rest_[0] : '\0'; }
  std::string_view rest() const { return rest_; }

  Result<std::string_view> take(char name, std::string_view what) {
    if (rest_.empty()) {
      return protocol_error(fmt::format("missing attribute '{}' ({})", name, what));
    }
    if (peek_name() != name) {
      return protocol_error(fmt::format("expected attribute '{}' ({}), found \"{}\"", name, what,
                                        core::printable(rest_, 16)));
    }
    size_t comma = rest_.find(',');
    std::string_view value =
        rest_.substr(2, comma == std::string_view::npos ? rest_.npos : comma - 2);
    if (comma == std::string_view::npos) {
      rest_ = {};
    } else {
      rest_.remove_prefix(comma + 1);
      if (rest_.empty()) {
        return protocol_error("trailing ','");
      }
    }
    return value;
  }

  Result<void> expect_end(std::string_view after) const {
    if (rest_.empty()) {
      return {};
    }
    if (rest_.size() >= 2 && rest_[1] == '=' && rest_[0] != 'm') {
      return protocol_error(
          fmt::format("unexpected attribute '{}' after {} (extensions are not supported)",
                      core::printable(rest_.substr(0, 1)), after));
    }
    return protocol_error(fmt::format("unexpected data after {}", after));
  }

 private:
  std::string_view rest_;
};

struct Keys {
  std::vector<uint8_t> stored_key;
  std::vector<uint8_t> server_key;
  std::vector<uint8_t> client_key;
};

Keys derive_keys(std::string_view password, std::span<const uint8_t> salt, int iterations) {
  Keys k;
  std::vector<uint8_t> salted = internal::salted_password(password, salt, iterations);
  k.client_key = internal::hmac_sha256(salted, "Client Key");
  k.stored_key = sha256(k.client_key);
  k.server_key = internal::hmac_sha256(salted, "Server Key");
  OPENSSL_cleanse(salted.data(), salted.size());
  return k;
}

}  // namespace

bool is_scram_auth_failure(const Error& error) {
  return error.code() == ErrorCode::kPermission && error.message() == kScramAuthFailed;
}

namespace internal {

std::vector<uint8_t> salted_password(std::string_view password, std::span<const uint8_t> salt,
                                     int iterations) {
  std::vector<uint8_t> out(kKeyLength);
  int rc = PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                             static_cast<int>(salt.size()), iterations, EVP_sha256(),
                             static_cast<int>(out.size()), out.data());
  PGM_CHECK(rc == 1);
  return out;
}

std::vector<uint8_t> hmac_sha256(std::span<const uint8_t> key, std::string_view data) {
  crypto::Sha256Digest mac = crypto::hmac_sha256(key, crypto::bytes_of(data));
  return {mac.begin(), mac.end()};
}

std::string random_nonce() {
  std::array<uint8_t, kScramNonceBytes> raw{};
  PGM_CHECK(RAND_bytes(raw.data(), static_cast<int>(raw.size())) == 1);
  return crypto::base64_encode(raw);
}

}  // namespace internal

// ---------------------------------------------------------------------------------------------
// Server

ScramServer::ScramServer(std::string password) : password_(std::move(password)) {}

ScramServer ScramServer::mock(std::string_view user, std::span<const uint8_t> secret) {
  ScramServer s;
  s.mock_ = true;
  std::vector<uint8_t> mac = internal::hmac_sha256(secret, fmt::format("mock salt:{}", user));
  s.salt_.assign(mac.begin(), mac.begin() + kScramSaltLength);
  // A password nobody knows, so the final step costs what a real one costs.
  s.password_ = internal::random_nonce();
  return s;
}

Result<std::string> ScramServer::handle_client_first(std::string_view message) {
  if (state_ != 0) {
    return protocol_error("unexpected client-first message");
  }
  state_ = 2;  // any failure ends the exchange
  // gs2-header = gs2-cbind-flag "," [authzid] ","
  if (message.empty()) {
    return protocol_error("empty client-first message");
  }
  char flag = message[0];
  if (flag == 'p') {
    return make_error(ErrorCode::kProtocol,
                      "malformed SCRAM message: the client requires channel binding, but "
                      "SCRAM-SHA-256-PLUS is not offered");
  }
  if ((flag != 'n' && flag != 'y') || message.size() < 2 || message[1] != ',') {
    return protocol_error("unexpected channel binding flag in client-first message");
  }
  if (message.size() < 3 || message[2] != ',') {
    if (message.substr(2, 2) == "a=") {
      return protocol_error("client uses an authorization identity, which is not supported");
    }
    return protocol_error("missing ',' after the channel binding flag");
  }
  gs2_header_ = std::string(message.substr(0, 3));
  std::string_view bare = message.substr(3);
  AttrCursor cur(bare);
  if (cur.peek_name() == 'm') {
    return protocol_error("mandatory extension in client-first message is not supported");
  }
  PGM_ASSIGN_OR_RETURN(std::string_view user, cur.take('n', "user name"));
  if (!valid_saslname(user)) {
    return protocol_error("invalid user name in client-first message");
  }
  PGM_ASSIGN_OR_RETURN(std::string_view client_nonce, cur.take('r', "nonce"));
  if (!valid_nonce(client_nonce)) {
    return protocol_error("invalid nonce in client-first message");
  }
  PGM_TRY(cur.expect_end("the nonce"));

  if (server_nonce_.empty()) {
    server_nonce_ = internal::random_nonce();
  }
  if (salt_.empty()) {
    salt_.resize(kScramSaltLength);
    PGM_CHECK(RAND_bytes(salt_.data(), static_cast<int>(salt_.size())) == 1);
  }
  client_first_bare_ = std::string(bare);
  combined_nonce_ = fmt::format("{}{}", client_nonce, server_nonce_);
  server_first_ = fmt::format("r={},s={},i={}", combined_nonce_, crypto::base64_encode(salt_),
                              kScramIterations);
  state_ = 1;
  return server_first_;
}

Result<std::string> ScramServer::handle_client_final(std::string_view message) {
  if (state_ != 1) {
    return protocol_error("unexpected client-final message");
  }
  state_ = 2;
  AttrCursor cur(message);
  PGM_ASSIGN_OR_RETURN(std::string_view cbind_b64, cur.take('c', "channel binding"));
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> cbind, strict_base64(cbind_b64, "channel binding"));
  if (std::string_view(reinterpret_cast<const char*>(cbind.data()), cbind.size()) != gs2_header_) {
    return protocol_error("channel binding data does not match the client-first gs2 header");
  }
  PGM_ASSIGN_OR_RETURN(std::string_view nonce, cur.take('r', "nonce"));
  if (nonce != combined_nonce_) {
    return protocol_error("nonce in client-final message does not match");
  }
  size_t without_proof_len = message.size() - cur.rest().size();
  if (cur.at_end()) {
    return protocol_error("missing attribute 'p' (proof)");
  }
  PGM_ASSIGN_OR_RETURN(std::string_view proof_b64, cur.take('p', "proof"));
  PGM_TRY(cur.expect_end("the proof"));
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> proof, strict_base64(proof_b64, "proof"));
  if (proof.size() != kKeyLength) {
    return protocol_error("proof has the wrong length");
  }
  // without_proof_len includes the ',' before "p=".
  std::string_view without_proof = message.substr(0, without_proof_len - 1);
  std::string auth_message =
      fmt::format("{},{},{}", client_first_bare_, server_first_, without_proof);

  Keys keys = derive_keys(password_, salt_, kScramIterations);
  ScopeExit wipe([&keys] {
    OPENSSL_cleanse(keys.client_key.data(), keys.client_key.size());
    OPENSSL_cleanse(keys.server_key.data(), keys.server_key.size());
  });
  std::vector<uint8_t> client_signature = internal::hmac_sha256(keys.stored_key, auth_message);
  std::vector<uint8_t> client_key(kKeyLength);
  for (size_t i = 0; i < kKeyLength; ++i) {
    client_key[i] = proof[i] ^ client_signature[i];
  }
  std::vector<uint8_t> candidate = sha256(client_key);
  bool match = CRYPTO_memcmp(candidate.data(), keys.stored_key.data(), kKeyLength) == 0;
  if (!match || mock_) {
    return auth_failed();
  }
  std::vector<uint8_t> server_signature = internal::hmac_sha256(keys.server_key, auth_message);
  return fmt::format("v={}", crypto::base64_encode(server_signature));
}

// ---------------------------------------------------------------------------------------------
// Client

ScramClient::ScramClient(std::string user, std::string password, bool over_tls)
    : user_(std::move(user)),
      password_(std::move(password)),
      gs2_header_(over_tls ? "y,," : "n,,") {}

std::string ScramClient::client_first() {
  if (client_nonce_.empty()) {
    client_nonce_ = internal::random_nonce();
  }
  client_first_bare_ = fmt::format("n={},r={}", escape_saslname(user_), client_nonce_);
  state_ = 1;
  return gs2_header_ + client_first_bare_;
}

Result<std::string> ScramClient::handle_server_first(std::string_view message) {
  if (state_ != 1) {
    return protocol_error("unexpected server-first message");
  }
  state_ = 4;  // failed unless we get through
  AttrCursor cur(message);
  if (cur.peek_name() == 'm') {
    return protocol_error("mandatory extension in server-first message is not supported");
  }
  PGM_ASSIGN_OR_RETURN(std::string_view nonce, cur.take('r', "nonce"));
  if (!valid_nonce(nonce) || nonce.size() <= client_nonce_.size() ||
      nonce.substr(0, client_nonce_.size()) != client_nonce_) {
    return protocol_error("server nonce does not extend the client nonce");
  }
  PGM_ASSIGN_OR_RETURN(std::string_view salt_b64, cur.take('s', "salt"));
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> salt, strict_base64(salt_b64, "salt"));
  if (salt.empty()) {
    return protocol_error("empty salt");
  }
  PGM_ASSIGN_OR_RETURN(std::string_view iter_text, cur.take('i', "iteration count"));
  PGM_TRY(cur.expect_end("the iteration count"));
  int iterations = 0;
  bool ok = !iter_text.empty() && iter_text.size() <= 9 && iter_text[0] != '0';
  for (char c : iter_text) {
    ok = ok && c >= '0' && c <= '9';
    if (ok) {
      iterations = iterations * 10 + (c - '0');
    }
  }
  if (!ok || iterations < 1 || iterations > kScramMaxIterations) {
    return protocol_error(
        fmt::format("invalid iteration count \"{}\"", core::printable(iter_text)));
  }

  std::string without_proof = fmt::format("c={},r={}", crypto::base64_encode(gs2_header_), nonce);
  std::string auth_message = fmt::format("{},{},{}", client_first_bare_, message, without_proof);
  Keys keys = derive_keys(password_, salt, iterations);
  std::vector<uint8_t> client_signature = internal::hmac_sha256(keys.stored_key, auth_message);
  std::vector<uint8_t> proof(kKeyLength);
  for (size_t i = 0; i < kKeyLength; ++i) {
    proof[i] = keys.client_key[i] ^ client_signature[i];
  }
  server_signature_ = internal::hmac_sha256(keys.server_key, auth_message);
  OPENSSL_cleanse(keys.client_key.data(), keys.client_key.size());
  OPENSSL_cleanse(keys.server_key.data(), keys.server_key.size());
  state_ = 2;
  return fmt::format("{},p={}", without_proof, crypto::base64_encode(proof));
}

Result<void> ScramClient::verify_server_final(std::string_view message) {
  if (state_ != 2) {
    return protocol_error("unexpected server-final message");
  }
  state_ = 4;
  AttrCursor cur(message);
  if (cur.peek_name() == 'e') {
    PGM_ASSIGN_OR_RETURN(std::string_view err, cur.take('e', "server error"));
    return make_error(
        ErrorCode::kPermission,
        fmt::format("SCRAM authentication failed on the server: {}", core::printable(err)));
  }
  PGM_ASSIGN_OR_RETURN(std::string_view sig_b64, cur.take('v', "server signature"));
  PGM_TRY(cur.expect_end("the server signature"));
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> sig, strict_base64(sig_b64, "server signature"));
  if (sig.size() != server_signature_.size() ||
      CRYPTO_memcmp(sig.data(), server_signature_.data(), sig.size()) != 0) {
    return make_error(ErrorCode::kPermission,
                      "the server's SCRAM signature is invalid: the server does not know the "
                      "password");
  }
  state_ = 3;
  return {};
}

}  // namespace pgm::net
