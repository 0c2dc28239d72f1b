// HttpServer: a small HTTP/1.1 (optionally TLS) server on a libev loop, for the metrics port.
//
// Single-threaded: construct, start(), stop() and destroy it on the thread that runs the loop
// (or while the loop is not running); the handler runs on that thread. Only the counters may be
// read from other threads. The loop must outlive the server. Do not call stop() or destroy the
// server from inside the handler (it runs in a connection's callback): defer it, e.g. to an
// ev_idle or ev_async watcher.
//
// One request per connection, answered with Connection: close. Everything is non-blocking and
// bounded, so a slow or hostile client costs only its own connection:
//   - at most max_connections at once; beyond that a connection is answered 503 (plain) or
//     closed (TLS) without being read, and counted as rejected;
//   - the request head (and the TLS handshake) must arrive within request_timeout, and is at
//     most 8 KiB (RequestParser limits), else the connection is closed (plain: a best-effort 408);
//   - the response is written as the socket accepts it (EV_WRITE) and must be gone within
//     write_timeout; a client that never reads is closed then;
//   - after the response the write side is shut down and unread input drained for a moment, so
//     the client sees the response rather than a reset;
//   - accept() failing for lack of descriptors pauses accepting for 100 ms instead of spinning.
// With TLS, SSL_write may raise SIGPIPE: the process must ignore SIGPIPE (the daemon does).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"
#include "pgm/http/request.h"
#include "pgm/http/response.h"

struct ev_loop;
typedef struct ssl_ctx_st SSL_CTX;  // NOLINT(modernize-use-using): OpenSSL's own spelling

namespace pgm::http {

// Called on the loop thread with a complete GET or HEAD request; must not block for long.
// For HEAD the body is computed and dropped. Exceptions are answered with 500.
using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  Handler handler;         // required; without one every request gets 503
  SSL_CTX* tls = nullptr;  // borrowed, must outlive the server; nullptr = plain HTTP
  size_t max_connections = 256;
  std::chrono::milliseconds request_timeout{5000};  // accept to complete request head
  std::chrono::milliseconds write_timeout{30000};   // response ready to fully sent
  std::string name = "http";                        // for log lines
};

class HttpServer {
 public:
  // Takes the listening socket (see net::listen_tcp). Does not start watching it.
  HttpServer(struct ev_loop* loop, UniqueFd listener, ServerOptions options);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // stop()

  // Starts accepting. Error if stop() already closed the listener. Calling it twice is harmless.
  Result<void> start();
  // Closes the listener and every connection at once. Idempotent; final (create a new server
  // to listen again, e.g. when the port changes).
  void stop();

  // Monotonic counters; readable from any thread.
  uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }
  uint64_t timed_out() const { return timed_out_.load(std::memory_order_relaxed); }
  size_t open_connections() const { return open_.load(std::memory_order_relaxed); }

 private:
  struct Connection;
  struct Watchers;

  void on_accept();
  void close_connection(Connection* conn);

  struct ev_loop* loop_;
  UniqueFd listener_;
  ServerOptions options_;
  std::unique_ptr<Watchers> watchers_;
  std::map<Connection*, std::unique_ptr<Connection>> connections_;
  bool running_ = false;
  bool out_of_descriptors_ = false;  // warned once per episode
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> rejected_{0};
  std::atomic<uint64_t> timed_out_{0};
  std::atomic<size_t> open_{0};
};

}  // namespace pgm::http
