// Remote management (reference §4.3): one TCP client of the `management` port, served by a
// forked child of the main process.
//
// The child authenticates the client with PostgreSQL's v3 messages and SCRAM-SHA-256 against the
// admins vault (net/remote.h), within authentication_timeout; then it reads one management
// frame, hands it unchanged to the daemon's own unix socket, and returns the answer unchanged.
// The main process therefore treats a remote command exactly as a local one. `conf reload`
// is refused remotely, as pgmoneta does: it re-reads files on the daemon's host.
//
// A failed login is logged once at WARN (user, peer, and "(unknown user)" when it is one, as
// PostgreSQL's own log says "Role does not exist"); the client gets PostgreSQL's 28P01 error
// and nothing else, whichever it was, after the policy's failure delay. With tls = on, a login
// without TLS is refused (28000). Each accepted command is logged at INFO with the user,
// the peer and whether TLS was used.
#pragma once

#include "pgm/core/unique_fd.h"
#include "pgm/daemon/context.h"
#include "pgm/net/remote.h"
#include "pgm/net/tls.h"

namespace pgm::daemon {

// Serves one connection; returns the child's exit code (0 when a frame was answered).
// `policy` carries the failure delay the login guard chose for this source and reports the
// login's outcome to the main process.
int run_remote_session(const DaemonContext& ctx, UniqueFd client, const net::TlsContext* tls,
                       const net::LoginPolicy& policy);

}  // namespace pgm::daemon
