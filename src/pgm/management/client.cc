#include "pgm/management/client.h"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "pgm/management/frame.h"

namespace pgm::management {

namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left before the deadline for poll(); -1 without a deadline.
int poll_timeout(const std::optional<Clock::time_point>& deadline) {
  if (!deadline) {
    return -1;
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
  if (left.count() <= 0) {
    return 0;
  }
  return left.count() > 60'000 ? 60'000 : static_cast<int>(left.count());
}

// Waits for `events`; kTimeout when the deadline passes.
Result<void> wait_for(int fd, short events, const std::optional<Clock::time_point>& deadline,
                      const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    int timeout = poll_timeout(deadline);
    int rc = ::poll(&p, 1, timeout);
    if (rc > 0) {
      return {};
    }
    if (rc < 0) {
      if (errno == EINTR) {
        continue;
      }
      return make_errno_error(fmt::format("management: poll while {}", what), errno);
    }
    if (deadline && Clock::now() >= *deadline) {
      return make_error(ErrorCode::kTimeout, fmt::format("management: timed out while {}", what));
    }
  }
}

}  // namespace

std::string socket_path(const std::string& socket_dir) {
  std::string path = socket_dir;
  if (path.empty() || path.back() != '/') {
    path += '/';
  }
  path += kSocketName;
  return path;
}

Result<UniqueFd> connect_unix(const std::string& socket_dir) {
  std::string path = socket_path(socket_dir);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("unix socket path is too long: {}", path));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return make_errno_error("management: socket", errno);
  }
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int err = errno;
    ErrorCode code = err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kUnavailable;
    return make_error(code, fmt::format("no pgmoneta daemon is listening on {}: {}", path,
                                        std::strerror(err)));  // NOLINT(concurrency-mt-unsafe)
  }
  return fd;
}

Result<nlohmann::json> exchange(int fd, const nlohmann::json& doc, compress::Algorithm compression,
                                crypto::AesMode encryption, const crypto::MasterKey* key,
                                std::chrono::milliseconds timeout, uint32_t max_length) {
  std::optional<Clock::time_point> deadline;
  if (timeout.count() > 0) {
    deadline = Clock::now() + timeout;
  }
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> frame, encode_frame(doc, compression, encryption, key));
  size_t off = 0;
  while (off < frame.size()) {
    PGM_TRY(wait_for(fd, POLLOUT, deadline, "sending the request"));
    ssize_t n = ::send(fd, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
        continue;
      }
      return make_errno_error("management: sending the request", errno);
    }
    off += static_cast<size_t>(n);
  }
  FrameReader reader(max_length);
  uint8_t buf[16384];
  size_t received = 0;
  for (;;) {
    PGM_TRY(wait_for(fd, POLLIN, deadline, "waiting for the response"));
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
        continue;
      }
      return make_errno_error("management: reading the response", errno);
    }
    if (n == 0) {
      return make_error(ErrorCode::kProtocol,
                        fmt::format("management: the daemon closed the connection after {} "
                                    "byte(s), before a whole response frame",
                                    received));
    }
    received += static_cast<size_t>(n);
    FrameReader::State state = reader.feed(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
    if (state == FrameReader::State::kError) {
      return make_error(ErrorCode::kProtocol,
                        fmt::format("management: bad response frame: {}", reader.error()));
    }
    if (state == FrameReader::State::kComplete) {
      break;
    }
  }
  auto decoded = decode_payload(reader.header().compression, reader.header().encryption,
                                reader.payload(), key);
  if (!decoded) {
    return tl::unexpected(decoded.error().with_context("management: bad response"));
  }
  return decoded;
}

}  // namespace pgm::management
