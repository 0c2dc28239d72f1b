// HTTP/1.1 responses: what a handler returns and how it goes on the wire. Pure functions.
// Response is a plain value type (thread-compatible).
//
// Every response carries Date, Content-Type, Cache-Control: no-store and Connection: close:
// the server answers one request per connection, which keeps the per-connection state small
// and lets a slow client hold at most one slot. no-store because the pages are live
// snapshots: a proxy or browser must not show old metrics (the daemon may cache on its side,
// see ResponseCache). To an HTTP/1.1 request the body is sent with Transfer-Encoding: chunked;
// HTTP/1.0 cannot decode that (RFC 9112 §6.1), so it gets Content-Length instead.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgm::http {

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  // Extra header fields (e.g. {"Allow", "GET, HEAD"}). CR and LF are replaced by spaces when
  // serialized; the fixed fields above must not be repeated here.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // A small fixed plain-text body for an error status ("404 Not Found\n"); a 405 carries
  // "Allow: GET, HEAD".
  static Response error(int status);
};

// "OK", "Not Found", ...; "Unknown" for a code it does not know.
const char* reason_phrase(int status);

// RFC 9110 IMF-fixdate, always GMT: "Sun, 06 Nov 1994 08:49:37 GMT". Locale-independent.
std::string format_http_date(std::chrono::system_clock::time_point time);

struct WireOptions {
  bool head_only = false;  // HEAD: the same fields, no body (and no chunk framing)
  bool chunked = true;     // false: Content-Length (for HTTP/1.0 clients)
  size_t chunk_size = size_t{16} * 1024;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

// The complete bytes of `response`: status line, header fields, empty line, body (split into
// chunks of at most chunk_size bytes and ended by "0\r\n\r\n" when chunked).
std::string serialize(const Response& response, const WireOptions& options);

// Keeps the last response of each path for max_age, if its body is at most max_size bytes.
// Meant for a few fixed paths (/metrics); it holds at most 16, replacing the oldest.
// Time is passed in, so tests need no clock. Not thread-safe (one per server, loop thread).
class ResponseCache {
 public:
  ResponseCache(std::chrono::milliseconds max_age, size_t max_size)
      : max_age_(max_age), max_size_(max_size) {}

  // The cached response for `path` if one younger than max_age exists.
  std::optional<Response> get(std::string_view path, std::chrono::steady_clock::time_point now);
  // Stores a copy unless the body is over max_size, max_age is zero or the status is not 200.
  void put(std::string_view path, const Response& response,
           std::chrono::steady_clock::time_point now);
  void clear() { entries_.clear(); }

 private:
  struct Entry {
    std::string path;
    Response response;
    std::chrono::steady_clock::time_point stored;
  };
  std::chrono::milliseconds max_age_;
  size_t max_size_;
  std::vector<Entry> entries_;  // a handful of paths at most
};

}  // namespace pgm::http
