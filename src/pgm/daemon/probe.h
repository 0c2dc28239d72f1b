// Server probing: connect to each configured PostgreSQL server with libpq, read what the
// daemon needs to know, and publish it in shared memory. Runs in a forked child (it blocks
// on the network); logs only state changes so a down server does not flood the log.
#pragma once

#include <cstddef>

#include "pgm/daemon/context.h"
#include "pgm/pg/connection.h"

namespace pgm::daemon {

// libpq parameters for a server's SQL connection (database postgres, the users vault's
// password, the server's TLS files); set `replication` for a walsender.
pg::ConnectParams connect_params(const DaemonContext& ctx, const config::ServerConfig& server);

// Probes server `index` and publishes the result; returns true when it is online.
bool probe_server(const DaemonContext& ctx, size_t index);

// Probes every server that the administrator has not put offline.
void probe_all_servers(const DaemonContext& ctx);

}  // namespace pgm::daemon
