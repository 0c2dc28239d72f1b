// Remote management: the handshake between pgmoneta-cli (-h -p -U -P) and the daemon over TCP,
// and the one management frame each way that follows it.
//
//   client                                  server
//   [SSLRequest]                  ->        'S' + TLS handshake, or 'N' (also for GSSENCRequest)
//   StartupMessage(user, database=admin) ->
//                                 <-        AuthenticationSASL(SCRAM-SHA-256)
//   SASLInitialResponse(client-first) ->
//                                 <-        AuthenticationSASLContinue(server-first)
//   SASLResponse(client-final)    ->
//                                 <-        AuthenticationSASLFinal(v=...), AuthenticationOk
//   management frame              ->
//                                 <-        management frame
//
// Failures the server answers with an ErrorResponse (FATAL) before closing: wrong password or
// unknown user -> 28P01 `password authentication failed for user "<user>"` (the two are
// indistinguishable on the wire: an unknown user runs a mock exchange); a database other than
// "admin" -> 3D000; other protocol versions -> 0A000; malformed messages -> 08P01 naming the
// problem.
//
// All functions block the calling thread until done or the deadline (kTimeout) and are
// thread-safe; a Stream is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"
#include "pgm/net/stream.h"
#include "pgm/net/tls.h"

namespace pgm::net {

inline constexpr std::string_view kAdminDatabase = "admin";

// The plaintext password of an admin user, nullopt for an unknown user. Called once per
// connection from the accepting thread.
using AdminLookup = std::function<std::optional<std::string>(std::string_view user)>;

struct AcceptedAdmin {
  std::unique_ptr<Stream> stream;  // plain or TLS, positioned at the management frame
  std::string user;
};

// What the caller wants done around the login's outcome (daemon/login_guard.h decides).
struct LoginPolicy {
  // A failed login waits this long before the refusal is sent (PostgreSQL's auth_delay); the
  // wait does not count against the login deadline.
  std::chrono::milliseconds failure_delay{0};
  // Called once, as soon as the outcome is known (before the delay): true = authenticated.
  std::function<void(bool authenticated)> report;
};

// Server side on an accepted socket. tls == nullptr: SSLRequest is answered 'N'. With tls, a
// login that did not start with SSLRequest is refused with FATAL 28000 (as pg_hba.conf's
// hostssl does). On failure the ErrorResponse (when sensible) has been sent, the socket is
// closed, and the Error's message is ONE log line, e.g. `remote management: authentication
// failed for user "bob" from 127.0.0.1:5432 (unknown user)`; codes: kPermission
// (authentication, TLS required), kNotFound (database), kProtocol, kIo, kTimeout.
Result<AcceptedAdmin> accept_admin(UniqueFd fd, const TlsContext* tls, const AdminLookup& lookup,
                                   Deadline deadline, const LoginPolicy& policy = {});

// Best effort, never blocks: sends FATAL <sqlstate> <message> on a freshly accepted,
// non-blocking socket (nothing read from it yet), for a refusal before any session exists.
void send_refusal(int fd, std::string_view sqlstate, const std::string& message);

// Client side: resolves host (IPv4/IPv6), connects within the deadline and runs
// authenticate_admin(). Errors: "could not resolve host "<host>": ..." and "could not connect
// to <host>:<port>: Connection refused" (kUnavailable), "connect to <host>:<port> timed out"
// (kTimeout), or those of authenticate_admin(). Name resolution itself (getaddrinfo) cannot be
// bounded by the deadline.
Result<std::unique_ptr<Stream>> connect_admin(const std::string& host, int port,
                                              const std::string& user, const std::string& password,
                                              const TlsContext* tls, Deadline deadline);

// Client handshake on a connected socket. tls == nullptr: no SSLRequest. With tls, a server
// answering 'N' is used in plain (libpq's sslmode=prefer) unless tls verifies the peer (a CA is
// configured, as sslmode=verify-full): then kUnavailable "the server does not support TLS". A
// server that refuses the connection before the handshake (an ErrorResponse instead of the
// SSLRequest's answer) -> kServer with its message.
// host is used for SNI and certificate checks. The server's ErrorResponse -> kServer with its
// message and SQLSTATE (e.g. `password authentication failed for user "admin"`); a server
// that cannot prove it knows the password -> kPermission; other oddities -> kProtocol.
Result<std::unique_ptr<Stream>> authenticate_admin(UniqueFd fd, std::string_view host,
                                                   const std::string& user,
                                                   const std::string& password,
                                                   const TlsContext* tls, Deadline deadline);

// Reads one whole management frame (6-byte header + payload of at most max_length bytes),
// returned raw. Bad header or length -> kProtocol with management::FrameReader's reason.
Result<std::vector<uint8_t>> read_frame(Stream& stream, uint32_t max_length, Deadline deadline);
// Writes one whole frame (its header must match its length, else kInvalidArgument).
Result<void> write_frame(Stream& stream, std::span<const uint8_t> frame, Deadline deadline);

namespace internal {
// The per-process secret behind mock salts (random, created on first use).
std::span<const uint8_t> mock_secret();
// "127.0.0.1:5432", "[::1]:5432", "local" or "unknown".
std::string peer_name(int fd);
// The peer's address alone: "127.0.0.1", "::1", "local" or "unknown".
std::string peer_host(int fd);
}  // namespace internal

}  // namespace pgm::net
