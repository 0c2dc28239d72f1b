// HTTP/1.x request head parsing for the metrics port. Pure code over bytes, no I/O.
// A RequestParser is a value owned by one connection: not thread-safe, no global state.
//
// Accepted grammar (RFC 9112, deliberately strict; everything else is an error):
//   request-line = method SP request-target SP "HTTP/1." DIGIT CRLF
//   header-line  = token ":" OWS value OWS CRLF        (no obs-fold, no space before ":")
//   the head ends at an empty line; bare LF is accepted wherever CRLF is.
// Bodies are refused: a non-zero Content-Length or any Transfer-Encoding is a 400. An HTTP/1.1
// request needs exactly one Host field (RFC 9112 §3.2), HTTP/1.0 at most one. Methods: GET and
// HEAD; other RFC 9110 methods and PATCH are 405, anything else (unknown, lower case) 400.
// The request-target is kept raw (no percent-decoding); path and query are split at the
// first '?'. An absolute-form target ("http://host/p") is reduced to its path.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgm::http {

struct Request {
  std::string method;     // "GET" or "HEAD" once complete
  std::string target;     // raw request-target as sent
  std::string path;       // target up to the first '?'
  std::string query;      // after the first '?', without it; empty when none
  int version_minor = 1;  // HTTP/1.<version_minor>
  // In arrival order; names lower-cased, values with surrounding whitespace removed.
  std::vector<std::pair<std::string, std::string>> headers;

  bool is_head() const { return method == "HEAD"; }
  // The first header of that name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

struct ParserLimits {
  size_t max_head_bytes = size_t{8} * 1024;  // request line + headers + empty line; beyond: 431
  size_t max_target = 2048;                  // request-target length; beyond: 414
  size_t max_headers = 64;                   // header lines; beyond: 431
};

class RequestParser {
 public:
  enum class State { kNeedMore, kComplete, kError };

  explicit RequestParser(ParserLimits limits = {});

  // Consumes bytes; returns the new state. Once kComplete or kError, further bytes are ignored
  // (the connection is closed after one response, so pipelined bytes are dropped).
  State feed(std::string_view bytes);
  State state() const { return state_; }

  // The request; complete once state() == kComplete. method/version_minor are set as soon as
  // the request line was read, so an error response can match the client's version.
  const Request& request() const { return request_; }
  // True when the request line was read (version_minor is meaningful).
  bool has_request_line() const { return have_request_line_; }

  // When state() == kError: the status to answer (400, 405, 414 or 431) and why, for logs.
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }

 private:
  State fail(int status, std::string why);
  State check_partial_request_line();
  State request_line(std::string_view line);
  State header_line(std::string_view line);
  State end_of_head();

  ParserLimits limits_;
  State state_ = State::kNeedMore;
  Request request_;
  std::string line_;  // the current, not yet terminated line
  size_t head_bytes_ = 0;
  size_t leading_empty_lines_ = 0;
  bool have_request_line_ = false;
  bool method_not_allowed_ = false;
  int error_status_ = 0;
  std::string error_;
};

}  // namespace pgm::http
