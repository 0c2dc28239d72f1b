// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: the pure message logic of both
// sides, no I/O. One object per exchange, used by one thread; distinct objects are independent.
//
// Differences from the bare RFC, matching PostgreSQL:
// - The user name inside the SCRAM messages is ignored by the server (n= may be empty): the
//   StartupMessage user is the one being authenticated.
// - Channel binding is not offered (no SCRAM-SHA-256-PLUS): gs2 headers "n,," and "y,," are
//   accepted, "p=..." and an authzid are refused.
// - Password normalisation: PostgreSQL applies SASLprep, which is the identity for printable
//   ASCII. SASLprep is not implemented here; the raw password bytes are used, which is also
//   what PostgreSQL falls back to when SASLprep fails on a password.
//
// Errors: malformed messages -> kProtocol, with a message naming what was wrong. A failed
// proof (wrong password, or any exchange of a mock server) -> kPermission with the message
// kScramAuthFailed; callers must not tell those two apart on the wire.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"

namespace pgm::net {

inline constexpr std::string_view kScramMechanism = "SCRAM-SHA-256";
inline constexpr int kScramIterations = 4096;
inline constexpr size_t kScramSaltLength = 16;
inline constexpr size_t kScramNonceBytes = 18;         // random bytes, base64-encoded in the nonce
inline constexpr int kScramMaxIterations = 1'000'000;  // what a client accepts from a server
inline constexpr std::string_view kScramAuthFailed = "authentication failed";

// True for the error handle_client_final() returns on a failed proof.
bool is_scram_auth_failure(const Error& error);

class ScramServer {
 public:
  // A real exchange against the user's plaintext password (the vault stores plaintext, so the
  // salted password is derived per exchange with a fresh random salt).
  explicit ScramServer(std::string password);
  // A mock exchange for an unknown user: the salt is HMAC-SHA256(secret, user) truncated to
  // 16 bytes, so it is stable for a user while the secret is, and the exchange costs the same
  // work as a real one; handle_client_final() always fails like a wrong password.
  static ScramServer mock(std::string_view user, std::span<const uint8_t> secret);

  // client-first-message -> server-first-message. Call once.
  Result<std::string> handle_client_first(std::string_view message);
  // client-final-message -> server-final-message ("v=<signature>"). Call once, after
  // handle_client_first(). Proof checked in constant time.
  Result<std::string> handle_client_final(std::string_view message);

  // Tests: fix the server nonce part / the salt (before handle_client_first).
  void set_nonce_for_testing(std::string nonce) { server_nonce_ = std::move(nonce); }
  void set_salt_for_testing(std::vector<uint8_t> salt) { salt_ = std::move(salt); }
  const std::vector<uint8_t>& salt() const { return salt_; }

 private:
  ScramServer() = default;

  std::string password_;
  bool mock_ = false;
  int state_ = 0;  // 0 expecting client-first, 1 expecting client-final, 2 done
  std::vector<uint8_t> salt_;
  std::string server_nonce_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string combined_nonce_;
};

class ScramClient {
 public:
  // user goes into n= (PostgreSQL ignores it; libpq sends it empty). over_tls selects the gs2
  // flag "y" (the client could bind but the server offered no -PLUS mechanism) instead of "n".
  ScramClient(std::string user, std::string password, bool over_tls = false);

  // client-first-message, e.g. "n,,n=,r=<nonce>".
  std::string client_first();
  // server-first-message -> client-final-message with the proof. Refuses a nonce that does not
  // extend ours, a bad salt, or an iteration count outside [1, kScramMaxIterations].
  Result<std::string> handle_server_first(std::string_view message);
  // Checks "v=<server signature>" in constant time; "e=<error>" or a mismatch -> kPermission.
  Result<void> verify_server_final(std::string_view message);

  // Tests: fix the client nonce (before client_first).
  void set_nonce_for_testing(std::string nonce) { client_nonce_ = std::move(nonce); }

 private:
  std::string user_;
  std::string password_;
  std::string gs2_header_;
  std::string client_nonce_;
  std::string client_first_bare_;
  std::vector<uint8_t> server_signature_;
  int state_ = 0;  // 0 initial, 1 first sent, 2 final sent, 3 verified
};

namespace internal {
// Exposed for tests: the RFC 5802 primitives over SHA-256.
std::vector<uint8_t> salted_password(std::string_view password, std::span<const uint8_t> salt,
                                     int iterations);
std::vector<uint8_t> hmac_sha256(std::span<const uint8_t> key, std::string_view data);
// A base64 nonce of kScramNonceBytes random bytes.
std::string random_nonce();
}  // namespace internal

}  // namespace pgm::net
