#include "pgm/net/listen.h"

#include <netdb.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace pgm::net {

Result<UniqueFd> listen_tcp(const std::string& host, int port, int backlog) {
  bool wildcard = host.empty() || host == "*";
  std::string where = fmt::format("{}:{}", wildcard ? "*" : host, port);
  if (port < 0 || port > 65535) {
    return make_error(ErrorCode::kConfig, fmt::format("listen {}: invalid port", where));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(wildcard ? nullptr : host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    if (rc == EAI_SYSTEM) {
      return make_errno_error(fmt::format("listen {}: resolve", where), errno);
    }
    return make_error(ErrorCode::kConfig,
                      fmt::format("listen {}: resolve: {}", where, ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(found, ::freeaddrinfo);
  std::vector<const addrinfo*> candidates;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    candidates.push_back(ai);
  }
  if (wildcard) {
    // "::" with IPV6_V6ONLY off serves IPv4 too; 0.0.0.0 is the fallback without IPv6.
    std::stable_partition(candidates.begin(), candidates.end(),
                          [](const addrinfo* ai) { return ai->ai_family == AF_INET6; });
  }
  Error last(ErrorCode::kNotFound, fmt::format("listen {}: no address", where));
  for (const addrinfo* ai : candidates) {
    UniqueFd fd(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) {
      last = errno_error(fmt::format("listen {}: socket", where), errno);
      continue;
    }
    int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (wildcard && ai->ai_family == AF_INET6) {
      int off = 0;
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    }
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      last = errno_error(fmt::format("listen {}: bind", where), errno);
      continue;
    }
    if (::listen(fd.get(), backlog) != 0) {
      last = errno_error(fmt::format("listen {}: listen", where), errno);
      continue;
    }
    return fd;
  }
  return tl::unexpected<Error>(last);
}

Result<int> local_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return make_errno_error("getsockname", errno);
  }
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  }
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  }
  return make_error(ErrorCode::kInvalidArgument, "local_port: not an IP socket");
}

}  // namespace pgm::net
