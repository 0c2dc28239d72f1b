// Listening TCP sockets for the daemon's ports (metrics HTTP, remote management). Functions
// are thread-safe.
#pragma once

#include <string>

#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"

namespace pgm::net {

// A non-blocking, close-on-exec TCP socket listening on host:port with SO_REUSEADDR.
// host "*" (or empty) is the wildcard: IPv6 dual-stack when available, else IPv4; otherwise an
// address or name resolved with getaddrinfo, bound to the first address that works.
// Port 0 picks a free port (see local_port). Errors name host:port and the cause.
Result<UniqueFd> listen_tcp(const std::string& host, int port, int backlog);

// The local port a socket is bound to.
Result<int> local_port(int fd);

}  // namespace pgm::net
