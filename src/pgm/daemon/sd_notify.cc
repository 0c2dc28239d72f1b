#include "pgm/daemon/sd_notify.h"

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "pgm/core/unique_fd.h"

namespace pgm::daemon {

SystemdNotifier::SystemdNotifier(std::string address)
    : address_(std::move(address)), owner_(address_.empty() ? 0 : ::getpid()) {}

SystemdNotifier SystemdNotifier::from_environment() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): at start-up, before any thread exists
  const char* value = std::getenv("NOTIFY_SOCKET");
  std::string address = value != nullptr ? value : "";
  // NOLINTNEXTLINE(concurrency-mt-unsafe): at start-up, before any thread exists
  ::unsetenv("NOTIFY_SOCKET");
  return SystemdNotifier(std::move(address));
}

Result<void> SystemdNotifier::send(std::string_view message) const {
  if (address_.empty() || ::getpid() != owner_) {
    return {};
  }
  if (address_[0] != '/' && address_[0] != '@') {
    return make_error(
        ErrorCode::kConfig,
        fmt::format("NOTIFY_SOCKET {}: neither a path nor an abstract socket name", address_));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // A path needs its terminating NUL inside sun_path; an abstract name has none.
  const bool abstract = address_[0] == '@';
  if (address_.size() + (abstract ? 0 : 1) > sizeof(addr.sun_path)) {
    return make_error(ErrorCode::kConfig, fmt::format("NOTIFY_SOCKET {}: too long", address_));
  }
  std::memcpy(addr.sun_path, address_.data(), address_.size());
  if (abstract) {
    addr.sun_path[0] = '\0';
  }
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                             (abstract ? 0 : 1));

  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return make_errno_error("NOTIFY_SOCKET: socket", errno);
  }
  ssize_t sent = 0;
  do {
    sent = ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                    reinterpret_cast<const sockaddr*>(&addr), length);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    return make_errno_error(fmt::format("NOTIFY_SOCKET {}: sendto", address_), errno);
  }
  if (static_cast<size_t>(sent) != message.size()) {
    return make_error(ErrorCode::kIo,
                      fmt::format("NOTIFY_SOCKET {}: datagram truncated", address_));
  }
  return {};
}

uint64_t monotonic_usec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000U + static_cast<uint64_t>(ts.tv_nsec) / 1000U;
}

std::string reloading_message() {
  return fmt::format("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec());
}

}  // namespace pgm::daemon
