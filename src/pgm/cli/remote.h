// pgmoneta-cli's side of remote management (reference §4.3): TCP to the daemon's `management`
// port, optional TLS, SCRAM-SHA-256 as an admin of the daemon's admins vault, then one
// management frame each way (net/remote.h). Thread-safe; blocking.
//
// TLS is asked for when $HOME/.pgmoneta/pgmoneta.crt and pgmoneta.key exist (as pgmoneta-cli
// does); $HOME/.pgmoneta/root.crt, when present, is the CA the daemon's certificate must chain
// to. A daemon without TLS answers 'N': the session goes on in plain text like libpq's
// sslmode=prefer, unless root.crt is there (then refused, like sslmode=verify-full).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/net/tls.h"

namespace pgm::cli {

struct RemoteTarget {
  std::string host;
  int port = 0;
  std::string user;
  std::string password;
  std::shared_ptr<const net::TlsContext> tls;  // null: no SSLRequest
};

// The client TLS context (always made: the CLI asks every daemon for TLS, as libpq's
// sslmode=prefer) from `pgmoneta_home` ($HOME/.pgmoneta): pgmoneta.crt and pgmoneta.key as the
// client certificate when both are there, root.crt as the CA that must have signed the
// daemon's certificate when it is there. Errors name the file.
Result<std::shared_ptr<const net::TlsContext>> client_tls(const std::string& pgmoneta_home);

// Connects, authenticates and exchanges one frame; the answer decoded as management::exchange
// does. A zero timeout means no deadline after the login (backups run for hours); the login
// itself always has one (30 s). Errors carry the daemon's message ("password authentication
// failed for user ...") prefixed with "<host>:<port>".
Result<nlohmann::json> remote_exchange(const RemoteTarget& target, const nlohmann::json& doc,
                                       compress::Algorithm compression, crypto::AesMode encryption,
                                       const crypto::MasterKey* key,
                                       std::chrono::milliseconds timeout);

}  // namespace pgm::cli
