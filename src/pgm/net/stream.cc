#include "pgm/net/stream.h"

#include <fcntl.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "pgm/net/net_internal.h"

namespace pgm::net {

Deadline deadline_after(std::chrono::milliseconds timeout) {
  return std::chrono::steady_clock::now() + timeout;
}

namespace internal {

Result<void> wait_fd(int fd, short events, Deadline deadline) {
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    int timeout_ms = 0;
    if (deadline > now) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
      timeout_ms = static_cast<int>(std::min<decltype(left)>(left, INT_MAX));
    }
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc > 0) {
      return {};  // ready, or an error/hangup the next call reports
    }
    if (rc < 0 && errno != EINTR) {
      return make_errno_error("poll", errno);
    }
    if (rc == 0 && std::chrono::steady_clock::now() >= deadline) {
      return make_error(ErrorCode::kTimeout, "timed out");
    }
  }
}

}  // namespace internal

Stream::Stream(UniqueFd fd, ssl_st* ssl) : fd_(std::move(fd)), ssl_(ssl) {
  int flags = ::fcntl(fd_.get(), F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) == 0) {
    // Failure leaves a blocking socket: poll() still bounds every wait before each call.
    ::fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK);
  }
}

Stream::~Stream() {
  if (ssl_ != nullptr) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // one non-blocking attempt to send close_notify
    SSL_free(ssl_);
    ERR_clear_error();
  }
}

std::unique_ptr<Stream> Stream::plain(UniqueFd fd) {
  return std::unique_ptr<Stream>(new Stream(std::move(fd), nullptr));
}

std::unique_ptr<Stream> Stream::adopt_tls(UniqueFd fd, ssl_st* ssl) {
  return std::unique_ptr<Stream>(new Stream(std::move(fd), ssl));
}

UniqueFd Stream::release() {
  PGM_CHECK(ssl_ == nullptr);
  return std::move(fd_);
}

Result<void> Stream::write_all(std::span<const uint8_t> data, Deadline deadline) {
  while (!data.empty()) {
    if (ssl_ != nullptr) {
      ERR_clear_error();
      errno = 0;
      size_t n = 0;
      if (SSL_write_ex(ssl_, data.data(), data.size(), &n) == 1) {
        data = data.subspan(n);
        continue;
      }
      int err = SSL_get_error(ssl_, 0);
      if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
        PGM_TRY(
            internal::wait_fd(fd_.get(), err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)
                .map_error([](const Error& e) { return e.with_context("TLS write"); }));
        continue;
      }
      if (err == SSL_ERROR_SYSCALL && errno != 0) {
        return make_errno_error("TLS write", errno);
      }
      return make_error(ErrorCode::kIo, fmt::format("TLS write: {}", internal::openssl_errors()));
    }
    ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data = data.subspan(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      PGM_TRY(internal::wait_fd(fd_.get(), POLLOUT, deadline).map_error([](const Error& e) {
        return e.with_context("write");
      }));
      continue;
    }
    return make_errno_error("write", errno);
  }
  return {};
}

Result<size_t> Stream::read_some(std::span<uint8_t> buf, Deadline deadline) {
  if (buf.empty()) {
    return size_t{0};
  }
  for (;;) {
    if (ssl_ != nullptr) {
      ERR_clear_error();
      errno = 0;
      size_t n = 0;
      if (SSL_read_ex(ssl_, buf.data(), buf.size(), &n) == 1) {
        return n;
      }
      int err = SSL_get_error(ssl_, 0);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        PGM_TRY(
            internal::wait_fd(fd_.get(), err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)
                .map_error([](const Error& e) { return e.with_context("TLS read"); }));
        continue;
      }
      if (err == SSL_ERROR_ZERO_RETURN) {
        return size_t{0};
      }
      if (err == SSL_ERROR_SYSCALL) {
        if (errno == 0) {
          return size_t{0};
        }
        return make_errno_error("TLS read", errno);
      }
      return make_error(ErrorCode::kIo, fmt::format("TLS read: {}", internal::openssl_errors()));
    }
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n >= 0) {
      return static_cast<size_t>(n);
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      PGM_TRY(internal::wait_fd(fd_.get(), POLLIN, deadline).map_error([](const Error& e) {
        return e.with_context("read");
      }));
      continue;
    }
    return make_errno_error("read", errno);
  }
}

Result<void> Stream::read_exact(std::span<uint8_t> buf, Deadline deadline) {
  while (!buf.empty()) {
    PGM_ASSIGN_OR_RETURN(size_t n, read_some(buf, deadline));
    if (n == 0) {
      return make_error(ErrorCode::kIo, "connection closed by peer");
    }
    buf = buf.subspan(n);
  }
  return {};
}

}  // namespace pgm::net
