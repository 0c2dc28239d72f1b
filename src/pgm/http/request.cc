#include "pgm/http/request.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace pgm::http {

namespace {

// RFC 9110 tchar.
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_lower(x) == to_lower(y);
         });
}

// Methods defined by RFC 9110 and PATCH: syntactically valid and known, so 405 rather than 400.
constexpr std::array<std::string_view, 9> kKnownMethods = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
constexpr size_t kMaxMethod = 16;
// Blank lines tolerated before the request line (RFC 9112 §2.2 robustness).
constexpr size_t kMaxLeadingEmptyLines = 4;

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

const std::string* Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) {
      return &value;
    }
  }
  return nullptr;
}

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {}

RequestParser::State RequestParser::fail(int status, std::string why) {
  state_ = State::kError;
  error_status_ = status;
  error_ = std::move(why);
  return state_;
}

RequestParser::State RequestParser::feed(std::string_view bytes) {
  while (state_ == State::kNeedMore && !bytes.empty()) {
    size_t nl = bytes.find('\n');
    size_t take = nl == std::string_view::npos ? bytes.size() : nl + 1;
    if (head_bytes_ + take > limits_.max_head_bytes) {
      if (!have_request_line_) {
        return fail(414, "request line too long");
      }
      return fail(431, fmt::format("request head larger than {} bytes", limits_.max_head_bytes));
    }
    head_bytes_ += take;
    line_.append(bytes.substr(0, nl == std::string_view::npos ? take : nl));
    bytes.remove_prefix(take);
    if (nl == std::string_view::npos) {
      if (!have_request_line_) {
        check_partial_request_line();
      }
      break;
    }
    std::string_view line(line_);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    State next = have_request_line_ ? header_line(line) : request_line(line);
    line_.clear();
    if (next != State::kNeedMore) {
      return next;
    }
  }
  return state_;
}

// Rejects garbage (a TLS ClientHello, binary noise, an overlong method or target) before the
// line ends, so such a client is answered at once instead of at the timeout.
RequestParser::State RequestParser::check_partial_request_line() {
  std::string_view line(line_);
  size_t sp = line.find(' ');
  std::string_view method = line.substr(0, sp);
  if (method.size() > kMaxMethod ||
      !std::all_of(method.begin(), method.end(), [](char c) { return is_tchar(c) || c == '\r'; })) {
    return fail(400, "malformed request line");
  }
  if (sp != std::string_view::npos && line.size() - sp - 1 > limits_.max_target + 16) {
    return fail(414, "request target too long");
  }
  return state_;
}

RequestParser::State RequestParser::request_line(std::string_view line) {
  if (line.empty()) {
    if (++leading_empty_lines_ > kMaxLeadingEmptyLines) {
      return fail(400, "empty request line");
    }
    return state_;
  }
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "malformed request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method) ||
      std::find(kKnownMethods.begin(), kKnownMethods.end(), method) == kKnownMethods.end()) {
    return fail(400, "unknown method");
  }
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' ||
      version[7] > '9') {
    return fail(400, "unsupported protocol version");
  }
  request_.method = std::string(method);
  request_.version_minor = version[7] - '0';
  have_request_line_ = true;
  method_not_allowed_ = method != "GET" && method != "HEAD";

  if (target.size() > limits_.max_target) {
    return fail(414, "request target too long");
  }
  if (target.empty() ||
      !std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return fail(400, "malformed request target");
  }
  request_.target = std::string(target);
  std::string_view path_and_query = target;
  if (target.front() != '/') {
    // absolute-form: scheme "://" authority [path-abempty] ["?" query]
    size_t scheme_end = target.find("://");
    if (method_not_allowed_) {
      path_and_query = target;  // OPTIONS *, CONNECT host:port: answered 405 at the end
    } else if (scheme_end == std::string_view::npos ||
               !(iequals(target.substr(0, scheme_end), "http") ||
                 iequals(target.substr(0, scheme_end), "https"))) {
      return fail(400, "malformed request target");
    } else {
      std::string_view rest = target.substr(scheme_end + 3);
      size_t path_start = rest.find_first_of("/?");
      path_and_query =
          path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
    }
  }
  size_t q = path_and_query.find('?');
  std::string_view path = path_and_query.substr(0, q);
  request_.path = path.empty() ? std::string("/") : std::string(path);
  if (q != std::string_view::npos) {
    std::string_view query = path_and_query;
    query.remove_prefix(q + 1);
    request_.query.assign(query.begin(), query.end());
  }
  return state_;
}

RequestParser::State RequestParser::header_line(std::string_view line) {
  if (line.empty()) {
    return end_of_head();
  }
  if (line.front() == ' ' || line.front() == '\t') {
    return fail(400, "obsolete header line folding");
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
    return fail(400, "malformed header line");
  }
  std::string_view value = trim_ows(line.substr(colon + 1));
  if (std::any_of(value.begin(), value.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && u != '\t') || u == 0x7f;
      })) {
    return fail(400, "control character in header value");
  }
  if (request_.headers.size() >= limits_.max_headers) {
    return fail(431, "too many header lines");
  }
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), to_lower);
  request_.headers.emplace_back(std::move(name), std::string(value));
  return state_;
}

RequestParser::State RequestParser::end_of_head() {
  if (method_not_allowed_) {
    return fail(405, fmt::format("method {} not allowed", request_.method));
  }
  size_t hosts = 0;
  for (const auto& [name, value] : request_.headers) {
    if (name == "transfer-encoding") {
      return fail(400, "request body (Transfer-Encoding) not accepted");
    }
    if (name == "content-length") {
      if (value.empty() ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return fail(400, "malformed Content-Length");
      }
      if (value.find_first_not_of('0') != std::string::npos) {
        return fail(400, "request body not accepted");
      }
    }
    if (name == "host") {
      ++hosts;
    }
  }
  // RFC 9112 §3.2: an HTTP/1.1 request without exactly one Host is a 400.
  if (hosts > 1 || (hosts == 0 && request_.version_minor >= 1)) {
    return fail(400, "missing or repeated Host header");
  }
  state_ = State::kComplete;
  return state_;
}

}  // namespace pgm::http
