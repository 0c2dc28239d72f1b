// Stream: one connected socket, plain or TLS, with blocking I/O bounded by a deadline.
//
// Every call waits with poll() on the descriptor, so a deadline holds even when the peer says
// nothing. The Stream owns the descriptor and puts it in non-blocking mode (whatever it was on
// entry); it never raises SIGPIPE (send with MSG_NOSIGNAL, also under TLS).
//
// Errors: a passed deadline -> kTimeout; socket or TLS failures -> kIo with strerror/OpenSSL's
// reason; read_exact() hitting EOF early -> kIo "connection closed by peer".
// Thread-safety: one thread at a time per Stream (like any handle).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>

#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"

struct ssl_st;

namespace pgm::net {

using Deadline = std::chrono::steady_clock::time_point;

// now + timeout.
Deadline deadline_after(std::chrono::milliseconds timeout);

class Stream {
 public:
  // A plain stream over a connected socket.
  static std::unique_ptr<Stream> plain(UniqueFd fd);

  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  // TLS: sends close_notify (best effort, without waiting), then closes the socket.
  ~Stream();

  // Writes every byte or fails.
  Result<void> write_all(std::span<const uint8_t> data, Deadline deadline);
  // Reads 1..buf.size() bytes; 0 means orderly EOF (also a TLS peer closing without
  // close_notify: our protocols carry their own lengths). Waits until data, EOF or deadline.
  Result<size_t> read_some(std::span<uint8_t> buf, Deadline deadline);
  // Fills buf completely. A plain stream never reads beyond it from the socket, so a TLS
  // handshake may follow on the same socket (see release()).
  Result<void> read_exact(std::span<uint8_t> buf, Deadline deadline);

  int fd() const { return fd_.get(); }
  bool tls() const { return ssl_ != nullptr; }

  // Plain streams only (PGM_CHECK): gives the socket back, e.g. to upgrade it with
  // tls_accept()/tls_connect() after an SSLRequest.
  UniqueFd release();

  // For tls.cc: a TLS stream over fd; takes ownership of ssl (an SSL*).
  static std::unique_ptr<Stream> adopt_tls(UniqueFd fd, ssl_st* ssl);

 private:
  Stream(UniqueFd fd, ssl_st* ssl);

  UniqueFd fd_;
  ssl_st* ssl_ = nullptr;
};

namespace internal {
// Waits until fd is readable (POLLIN) or writable (POLLOUT) or the deadline passes (kTimeout,
// message "timed out"). Used by the TLS handshake too.
Result<void> wait_fd(int fd, short events, Deadline deadline);
}  // namespace internal

}  // namespace pgm::net
