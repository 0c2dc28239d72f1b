#include "pgm/http/server.h"

#include <ev.h>
#include <fcntl.h>
#include <netdb.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "pgm/log/log.h"

namespace pgm::http {

namespace {

// Accepts per wake-up, so a connection flood cannot keep the loop in one callback.
constexpr int kAcceptBatch = 64;
// Accepting pauses this long when the process is out of descriptors (EMFILE and friends).
constexpr double kAcceptPause = 0.1;
// After the response: how long unread client input is drained before closing, and how much.
constexpr double kLinger = 1.0;
constexpr size_t kMaxDrain = size_t{64} * 1024;
constexpr size_t kReadBuffer = 4096;

double seconds(std::chrono::milliseconds ms) {
  return std::max(0.001, static_cast<double>(ms.count()) / 1000.0);
}

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

std::string peer_name(const sockaddr_storage& addr) {
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), sizeof(addr), host, sizeof(host),
                    serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "?";
  }
  return addr.ss_family == AF_INET6 ? fmt::format("[{}]:{}", host, serv)
                                    : fmt::format("{}:{}", host, serv);
}

// The first queued OpenSSL error as text, and an empty queue afterwards: the queue is
// per-thread and other code on this thread must not see our leftovers.
std::string take_ssl_error() {
  unsigned long code = ERR_get_error();
  std::string text = "connection closed";
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    text = buf;
  }
  ERR_clear_error();
  return text;
}

}  // namespace

struct HttpServer::Watchers {
  ev_io accept{};
  ev_timer accept_pause{};

  static void on_accept(struct ev_loop* /*loop*/, ev_io* w, int /*revents*/) {
    static_cast<HttpServer*>(w->data)->on_accept();
  }
  static void on_pause_over(struct ev_loop* loop, ev_timer* w, int /*revents*/) {
    auto* server = static_cast<HttpServer*>(w->data);
    if (server->running_) {
      ev_io_start(loop, &server->watchers_->accept);
    }
  }
};

struct HttpServer::Connection {
  enum class Phase { kHandshake, kReading, kWriting, kDraining };
  enum class Io { kOk, kAgain, kEof, kError };

  HttpServer* server = nullptr;
  UniqueFd fd;
  std::unique_ptr<SSL, SslFree> ssl;  // destroyed before fd (declared after it)
  sockaddr_storage peer{};
  ev_io io{};
  ev_timer timer{};
  int events = 0;
  Phase phase = Phase::kReading;
  RequestParser parser;
  bool received_any = false;
  std::string out;
  size_t out_off = 0;
  size_t drained = 0;

  static void on_io_cb(struct ev_loop* /*loop*/, ev_io* w, int /*revents*/) {
    static_cast<Connection*>(w->data)->on_io();
  }
  static void on_timer_cb(struct ev_loop* /*loop*/, ev_timer* w, int /*revents*/) {
    static_cast<Connection*>(w->data)->on_timer();
  }

  struct ev_loop* loop() const {
    return server->loop_;
  }
  void close() { server->close_connection(this); }  // `this` is gone afterwards

  void watch(int want) {
    if (want == events) {
      return;
    }
    ev_io_stop(loop(), &io);
    ev_io_set(&io, fd.get(), want);
    ev_io_start(loop(), &io);
    events = want;
  }

  void arm_timer(double after) {
    ev_timer_stop(loop(), &timer);
    ev_timer_set(&timer, after, 0.0);
    ev_timer_start(loop(), &timer);
  }

  // Maps a failed SSL call to Io, pointing the watcher where OpenSSL needs it.
  Io ssl_result(int ret) {
    int err = SSL_get_error(ssl.get(), ret);
    switch (err) {
      case SSL_ERROR_WANT_READ:
        watch(EV_READ);
        return Io::kAgain;
      case SSL_ERROR_WANT_WRITE:
        watch(EV_WRITE);
        return Io::kAgain;
      case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return Io::kEof;
      default:
        PGM_LOG_DEBUG("{}: tls error from {}: {}", server->options_.name, peer_name(peer),
                      take_ssl_error());
        return Io::kError;
    }
  }

  Io read_some(char* buf, size_t cap, size_t* got) {
    if (ssl) {
      ERR_clear_error();
      int n = SSL_read(ssl.get(), buf, static_cast<int>(cap));
      if (n > 0) {
        *got = static_cast<size_t>(n);
        return Io::kOk;
      }
      return ssl_result(n);
    }
    for (;;) {
      ssize_t n = ::recv(fd.get(), buf, cap, 0);
      if (n > 0) {
        *got = static_cast<size_t>(n);
        return Io::kOk;
      }
      if (n == 0) {
        return Io::kEof;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        watch(EV_READ);
        return Io::kAgain;
      }
      return Io::kError;
    }
  }

  Io write_some(const char* data, size_t len, size_t* wrote) {
    if (ssl) {
      ERR_clear_error();
      int n = SSL_write(ssl.get(), data, static_cast<int>(std::min<size_t>(len, 1 << 30)));
      if (n > 0) {
        *wrote = static_cast<size_t>(n);
        return Io::kOk;
      }
      return ssl_result(n);
    }
    for (;;) {
      ssize_t n = ::send(fd.get(), data, len, MSG_NOSIGNAL);
      if (n >= 0) {
        *wrote = static_cast<size_t>(n);
        return Io::kOk;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        watch(EV_WRITE);
        return Io::kAgain;
      }
      return Io::kError;
    }
  }

  void on_io() {
    switch (phase) {
      case Phase::kHandshake:
        handshake();
        return;
      case Phase::kReading:
        read_request();
        return;
      case Phase::kWriting:
        write_response();
        return;
      case Phase::kDraining:
        drain();
        return;
    }
  }

  void on_timer() {
    const std::string& name = server->options_.name;
    switch (phase) {
      case Phase::kHandshake:
      case Phase::kReading:
        server->timed_out_.fetch_add(1, std::memory_order_relaxed);
        PGM_LOG_DEBUG("{}: request from {} timed out", name, peer_name(peer));
        if (!ssl && received_any) {
          // Best effort, one try: the socket buffer is empty since nothing was written yet.
          std::string bytes = serialize(Response::error(408), WireOptions{.chunked = false});
          [[maybe_unused]] ssize_t n =
              ::send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        break;
      case Phase::kWriting:
        server->timed_out_.fetch_add(1, std::memory_order_relaxed);
        PGM_LOG_DEBUG("{}: response to {} not taken in time ({} of {} bytes sent)", name,
                      peer_name(peer), out_off, out.size());
        break;
      case Phase::kDraining:
        break;
    }
    close();
  }

  void handshake() {
    ERR_clear_error();
    int ret = SSL_do_handshake(ssl.get());
    if (ret == 1) {
      phase = Phase::kReading;
      read_request();  // records may already sit in OpenSSL's buffer
      return;
    }
    if (ssl_result(ret) != Io::kAgain) {
      close();
    }
  }

  void read_request() {
    char buf[kReadBuffer];
    for (;;) {
      size_t got = 0;
      Io io_result = read_some(buf, sizeof(buf), &got);
      if (io_result == Io::kAgain) {
        return;
      }
      if (io_result != Io::kOk) {
        close();  // end of input or error before a whole request: nobody to answer
        return;
      }
      received_any = true;
      // The parser stops at its limits, so this loop ends even for a fast sender.
      if (parser.feed(std::string_view(buf, got)) != RequestParser::State::kNeedMore) {
        respond();
        return;
      }
    }
  }

  void respond() {
    const ServerOptions& opts = server->options_;
    Response response;
    bool head_only = false;
    bool chunked = parser.has_request_line() && parser.request().version_minor >= 1;
    if (parser.state() == RequestParser::State::kError) {
      PGM_LOG_DEBUG("{}: {} from {}: {}", opts.name, parser.error_status(), peer_name(peer),
                    parser.error());
      response = Response::error(parser.error_status());
    } else if (!opts.handler) {
      response = Response::error(503);
    } else {
      const Request& request = parser.request();
      head_only = request.is_head();
      try {
        response = opts.handler(request);
      } catch (const std::exception& e) {
        PGM_LOG_WARN("{}: handler failed for {}: {}", opts.name, request.path, e.what());
        response = Response::error(500);
      } catch (...) {
        PGM_LOG_WARN("{}: handler failed for {}", opts.name, request.path);
        response = Response::error(500);
      }
    }
    out = serialize(response, WireOptions{.head_only = head_only, .chunked = chunked});
    out_off = 0;
    phase = Phase::kWriting;
    arm_timer(seconds(opts.write_timeout));
    write_response();
  }

  void write_response() {
    while (out_off < out.size()) {
      size_t wrote = 0;
      Io io_result = write_some(out.data() + out_off, out.size() - out_off, &wrote);
      if (io_result == Io::kAgain) {
        return;
      }
      if (io_result != Io::kOk) {
        close();
        return;
      }
      out_off += wrote;
    }
    begin_drain();
  }

  // The response is out: say so (FIN or close_notify), then read what the client may still
  // send until it closes, so that our close does not turn into a reset that could destroy the
  // response in the client's receive buffer.
  void begin_drain() {
    out = std::string();
    if (ssl) {
      ERR_clear_error();
      [[maybe_unused]] int ret = SSL_shutdown(ssl.get());  // one try, close_notify only
      ERR_clear_error();
    }
    ::shutdown(fd.get(), SHUT_WR);
    phase = Phase::kDraining;
    arm_timer(kLinger);
    watch(EV_READ);
    drain();
  }

  void drain() {
    char buf[kReadBuffer];
    for (;;) {
      ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);  // raw bytes, TLS or not
      if (n > 0) {
        drained += static_cast<size_t>(n);
        if (drained > kMaxDrain) {
          close();
          return;
        }
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      }
      close();  // EOF or error
      return;
    }
  }
};

HttpServer::HttpServer(struct ev_loop* loop, UniqueFd listener, ServerOptions options)
    : loop_(loop),
      listener_(std::move(listener)),
      options_(std::move(options)),
      watchers_(std::make_unique<Watchers>()) {}

HttpServer::~HttpServer() { stop(); }

Result<void> HttpServer::start() {
  if (running_) {
    return {};
  }
  if (!listener_) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("{}: server was stopped, no listening socket", options_.name));
  }
  int flags = ::fcntl(listener_.get(), F_GETFL);
  if (flags < 0 || ::fcntl(listener_.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return make_errno_error(fmt::format("{}: set listening socket non-blocking", options_.name),
                            errno);
  }
  ev_io_init(&watchers_->accept, Watchers::on_accept, listener_.get(), EV_READ);
  watchers_->accept.data = this;
  ev_timer_init(&watchers_->accept_pause, Watchers::on_pause_over, kAcceptPause, 0.0);
  watchers_->accept_pause.data = this;
  ev_io_start(loop_, &watchers_->accept);
  running_ = true;
  return {};
}

void HttpServer::stop() {
  if (watchers_) {
    ev_io_stop(loop_, &watchers_->accept);
    ev_timer_stop(loop_, &watchers_->accept_pause);
  }
  running_ = false;
  listener_.reset();
  for (auto& [raw, conn] : connections_) {
    ev_io_stop(loop_, &conn->io);
    ev_timer_stop(loop_, &conn->timer);
  }
  connections_.clear();
  open_.store(0, std::memory_order_relaxed);
}

void HttpServer::on_accept() {
  for (int i = 0; i < kAcceptBatch && running_; ++i) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    UniqueFd fd(::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len,
                          SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        return;
      }
      if (err == EINTR || err == ECONNABORTED || err == EPROTO) {
        continue;
      }
      // Out of descriptors or memory: the listener stays readable, so stop watching it for a
      // moment rather than spinning.
      if (!out_of_descriptors_) {
        PGM_LOG_WARN("{}: {}; accepting again every {} ms", options_.name,
                     errno_error("accept", err).message(), static_cast<int>(kAcceptPause * 1000));
      }
      out_of_descriptors_ = true;
      ev_io_stop(loop_, &watchers_->accept);
      ev_timer_set(&watchers_->accept_pause, kAcceptPause, 0.0);
      ev_timer_start(loop_, &watchers_->accept_pause);
      return;
    }
    out_of_descriptors_ = false;
    if (connections_.size() >= options_.max_connections) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      PGM_LOG_DEBUG("{}: connection from {} rejected: {} connections open", options_.name,
                    peer_name(peer), connections_.size());
      if (!options_.tls) {
        static const std::string busy =
            serialize(Response::error(503), WireOptions{.chunked = false});
        [[maybe_unused]] ssize_t n =
            ::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      continue;  // closed by UniqueFd
    }
    auto conn = std::make_unique<Connection>();
    conn->server = this;
    conn->peer = peer;
    if (options_.tls) {
      conn->ssl.reset(SSL_new(options_.tls));
      if (!conn->ssl || SSL_set_fd(conn->ssl.get(), fd.get()) != 1) {
        PGM_LOG_WARN("{}: cannot set up tls for a connection: {}", options_.name, take_ssl_error());
        continue;
      }
      SSL_set_accept_state(conn->ssl.get());
      SSL_set_mode(conn->ssl.get(),
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
      conn->phase = Connection::Phase::kHandshake;
    }
    conn->fd = std::move(fd);
    ev_io_init(&conn->io, Connection::on_io_cb, conn->fd.get(), EV_READ);
    conn->io.data = conn.get();
    conn->events = EV_READ;
    ev_timer_init(&conn->timer, Connection::on_timer_cb, seconds(options_.request_timeout), 0.0);
    conn->timer.data = conn.get();
    ev_io_start(loop_, &conn->io);
    ev_timer_start(loop_, &conn->timer);
    Connection* key = conn.get();
    connections_.emplace(key, std::move(conn));
    accepted_.fetch_add(1, std::memory_order_relaxed);
    open_.store(connections_.size(), std::memory_order_relaxed);
  }
}

void HttpServer::close_connection(Connection* conn) {
  auto it = connections_.find(conn);
  if (it == connections_.end()) {
    return;
  }
  ev_io_stop(loop_, &conn->io);
  ev_timer_stop(loop_, &conn->timer);
  connections_.erase(it);  // frees SSL, closes the descriptor
  open_.store(connections_.size(), std::memory_order_relaxed);
}

}  // namespace pgm::http
