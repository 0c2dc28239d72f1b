// TLS for remote management (and the HTTP endpoints): immutable OpenSSL contexts built from
// PEM files, and the upgrade of a connected socket to a TLS Stream.
//
// TlsContext is immutable once created and shared (std::shared_ptr); OpenSSL allows one
// SSL_CTX to serve many connections from many threads, so all methods are thread-safe.
// Minimum protocol TLS 1.2.
//
// Errors: missing or invalid files -> kConfig naming the file and OpenSSL's reason (a missing
// key file -> kNotFound); a key file readable by others -> kPermission naming the file and its
// mode (as pgmoneta and
// PostgreSQL: 0600 or stricter, 0640 or stricter when owned by root); handshake failures ->
// kIo "TLS handshake failed: <reason>" (certificate problems name the verification error);
// deadline -> kTimeout.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"
#include "pgm/net/stream.h"

struct ssl_ctx_st;

namespace pgm::net {

struct TlsFiles {
  std::string cert;  // PEM certificate (chain), leaf first
  std::string key;   // PEM private key of cert
  std::string ca;    // PEM CA bundle; empty: none
};

class TlsContext {
 public:
  // Server: cert and key required. With ca: ask clients for a certificate and verify it when
  // one is presented (a client without a certificate is still accepted; it authenticates with
  // SCRAM like everybody).
  static Result<std::shared_ptr<TlsContext>> server(const TlsFiles& files);
  // Client: cert/key optional (both or neither). With ca: the server certificate must chain to
  // it and match the host name given to tls_connect() (libpq's sslmode=verify-full); without:
  // no verification (sslmode=require).
  static Result<std::shared_ptr<TlsContext>> client(const TlsFiles& files);

  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  ~TlsContext();

  // The SSL_CTX*, borrowed for the lifetime of this object. Do not modify it.
  ssl_ctx_st* native() const { return ctx_; }
  bool is_server() const { return server_; }
  // True when a CA was given (server: client certificates are verified; client: the server is).
  bool verifies_peer() const { return verify_; }

 private:
  TlsContext(ssl_ctx_st* ctx, bool server, bool verify)
      : ctx_(ctx), server_(server), verify_(verify) {}

  ssl_ctx_st* ctx_;
  bool server_;
  bool verify_;
};

// Checks a private key file's owner and mode as described above; kNotFound when missing.
Result<void> check_key_file_permissions(const std::string& path);

// Runs the server side of the handshake on fd (ctx from TlsContext::server()).
Result<std::unique_ptr<Stream>> tls_accept(UniqueFd fd, const TlsContext& ctx, Deadline deadline);
// Runs the client side; host_for_sni is sent as SNI when it is a name (not an IP address) and
// is checked against the certificate when ctx verifies the peer. May be empty (no SNI/check).
Result<std::unique_ptr<Stream>> tls_connect(UniqueFd fd, const TlsContext& ctx,
                                            std::string_view host_for_sni, Deadline deadline);

}  // namespace pgm::net
