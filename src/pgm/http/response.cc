#include "pgm/http/response.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

namespace pgm::http {

namespace {

std::string clean_field(std::string_view s) {
  std::string out(s);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return out;
}

}  // namespace

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

Response Response::error(int status) {
  Response r;
  r.status = status;
  r.body = fmt::format("{} {}\n", status, reason_phrase(status));
  if (status == 405) {
    r.headers.emplace_back("Allow", "GET, HEAD");
  }
  return r;
}

std::string format_http_date(std::chrono::system_clock::time_point time) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = std::chrono::system_clock::to_time_t(time);
  struct tm tm {};
  ::gmtime_r(&t, &tm);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[tm.tm_wday % 7], tm.tm_mday,
                     kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string serialize(const Response& response, const WireOptions& options) {
  std::string out;
  out.reserve(256 + response.body.size() + response.body.size() / 1024 + 16);
  fmt::format_to(std::back_inserter(out), "HTTP/1.1 {} {}\r\nDate: {}\r\n", response.status,
                 reason_phrase(response.status), format_http_date(options.now));
  fmt::format_to(std::back_inserter(out), "Content-Type: {}\r\n",
                 clean_field(response.content_type));
  out += "Cache-Control: no-store\r\nConnection: close\r\n";
  for (const auto& [name, value] : response.headers) {
    fmt::format_to(std::back_inserter(out), "{}: {}\r\n", clean_field(name), clean_field(value));
  }
  if (options.chunked) {
    out += "Transfer-Encoding: chunked\r\n\r\n";
  } else {
    fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n\r\n", response.body.size());
  }
  if (options.head_only) {
    return out;
  }
  if (!options.chunked) {
    out += response.body;
    return out;
  }
  size_t chunk = std::max<size_t>(1, options.chunk_size);
  std::string_view body(response.body);
  while (!body.empty()) {
    std::string_view piece = body.substr(0, chunk);
    fmt::format_to(std::back_inserter(out), "{:x}\r\n", piece.size());
    out += piece;
    out += "\r\n";
    body.remove_prefix(piece.size());
  }
  out += "0\r\n\r\n";
  return out;
}

std::optional<Response> ResponseCache::get(std::string_view path,
                                           std::chrono::steady_clock::time_point now) {
  for (const Entry& e : entries_) {
    if (e.path == path) {
      if (now - e.stored < max_age_) {
        return e.response;
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

void ResponseCache::put(std::string_view path, const Response& response,
                        std::chrono::steady_clock::time_point now) {
  if (max_age_.count() <= 0 || response.status != 200 || response.body.size() > max_size_) {
    return;
  }
  for (Entry& e : entries_) {
    if (e.path == path) {
      e.response = response;
      e.stored = now;
      return;
    }
  }
  constexpr size_t kMaxEntries = 16;
  if (entries_.size() >= kMaxEntries) {
    auto oldest =
        std::min_element(entries_.begin(), entries_.end(),
                         [](const Entry& a, const Entry& b) { return a.stored < b.stored; });
    *oldest = Entry{std::string(path), response, now};
    return;
  }
  entries_.push_back(Entry{std::string(path), response, now});
}

}  // namespace pgm::http
