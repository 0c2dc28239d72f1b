// Test support: blocking client sockets to a port on 127.0.0.1, for tests of listeners.
#pragma once

#include <cerrno>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "pgm/core/unique_fd.h"

namespace pgm::test {

// Connected to 127.0.0.1:port without timeouts; invalid, errno set, when the connection is
// refused (no test failure: for probes).
inline UniqueFd try_connect_loopback(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return {};
  }
  return fd;
}

// Connected to 127.0.0.1:port, with 5 s send/receive timeouts; invalid (and a test failure)
// when the connection is refused.
inline UniqueFd connect_loopback(int port) {
  UniqueFd fd = try_connect_loopback(port);
  if (!fd.valid()) {
    ADD_FAILURE() << "connect: errno " << errno;
    return {};
  }
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return fd;
}

}  // namespace pgm::test
