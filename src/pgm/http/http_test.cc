#include <ev.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback.h"
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "pgm/core/unique_fd.h"
#include "pgm/http/request.h"
#include "pgm/http/response.h"
#include "pgm/http/server.h"
#include "pgm/net/listen.h"

namespace pgm::http {
namespace {

using namespace std::chrono_literals;
using State = RequestParser::State;

// ---------------------------------------------------------------- parser

struct ParseCase {
  const char* name;
  std::string input;
  State state;
  int status;  // error_status() when kError
};

class RequestParserTableTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(RequestParserTableTest, EndsInExpectedState) {
  const ParseCase& c = GetParam();
  RequestParser whole;
  EXPECT_EQ(whole.feed(c.input), c.state) << whole.error();
  if (c.state == State::kError) {
    EXPECT_EQ(whole.error_status(), c.status) << whole.error();
  }
  // Byte by byte gives the same answer.
  RequestParser bytes;
  for (char ch : c.input) {
    bytes.feed(std::string_view(&ch, 1));
  }
  EXPECT_EQ(bytes.state(), c.state);
  EXPECT_EQ(bytes.error_status(), whole.error_status());
}

std::string host() { return "Host: x\r\n"; }

INSTANTIATE_TEST_SUITE_P(
    Cases, RequestParserTableTest,
    ::testing::Values(
        ParseCase{"Get", "GET /metrics HTTP/1.1\r\n" + host() + "\r\n", State::kComplete, 0},
        ParseCase{"Head", "HEAD / HTTP/1.1\r\n" + host() + "\r\n", State::kComplete, 0},
        ParseCase{"Http10NoHost", "GET / HTTP/1.0\r\n\r\n", State::kComplete, 0},
        ParseCase{"BareLf", "GET / HTTP/1.1\nHost: x\n\n", State::kComplete, 0},
        ParseCase{"LeadingEmptyLine", "\r\nGET / HTTP/1.1\r\n" + host() + "\r\n", State::kComplete,
                  0},
        ParseCase{"ContentLengthZero", "GET / HTTP/1.1\r\n" + host() + "Content-Length: 0\r\n\r\n",
                  State::kComplete, 0},
        ParseCase{"Incomplete", "GET / HTTP/1.1\r\n" + host(), State::kNeedMore, 0},
        ParseCase{"PartialLine", "GET /metr", State::kNeedMore, 0},
        ParseCase{"Http11NoHost", "GET / HTTP/1.1\r\n\r\n", State::kError, 400},
        ParseCase{"TwoHosts", "GET / HTTP/1.1\r\n" + host() + host() + "\r\n", State::kError, 400},
        ParseCase{"BodyOnGet", "GET / HTTP/1.1\r\n" + host() + "Content-Length: 5\r\n\r\nhello",
                  State::kError, 400},
        ParseCase{"BadContentLength", "GET / HTTP/1.1\r\n" + host() + "Content-Length: x\r\n\r\n",
                  State::kError, 400},
        ParseCase{"ChunkedOnGet",
                  "GET / HTTP/1.1\r\n" + host() + "Transfer-Encoding: chunked\r\n\r\n",
                  State::kError, 400},
        ParseCase{"Post", "POST /metrics HTTP/1.1\r\n" + host() + "Content-Length: 3\r\n\r\nabc",
                  State::kError, 405},
        ParseCase{"Delete", "DELETE / HTTP/1.1\r\n" + host() + "\r\n", State::kError, 405},
        ParseCase{"OptionsStar", "OPTIONS * HTTP/1.1\r\n" + host() + "\r\n", State::kError, 405},
        ParseCase{"Connect", "CONNECT h:443 HTTP/1.1\r\n" + host() + "\r\n", State::kError, 405},
        ParseCase{"StarOnGet", "GET * HTTP/1.1\r\n" + host() + "\r\n", State::kError, 400},
        ParseCase{"UnknownMethod", "FOO / HTTP/1.1\r\n" + host() + "\r\n", State::kError, 400},
        ParseCase{"LowercaseMethod", "get / HTTP/1.1\r\n" + host() + "\r\n", State::kError, 400},
        ParseCase{"Http2Preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", State::kError, 400},
        ParseCase{"Http2Version", "GET / HTTP/2.0\r\n" + host() + "\r\n", State::kError, 400},
        ParseCase{"Http09", "GET /\r\n\r\n", State::kError, 400},
        ParseCase{"TlsHello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
                  State::kError, 400},
        ParseCase{"Garbage", "\x01\x02\x03 hello\r\n\r\n", State::kError, 400},
        ParseCase{"DoubleSpace", "GET  / HTTP/1.1\r\n" + host() + "\r\n", State::kError, 400},
        ParseCase{"ExtraField", "GET / HTTP/1.1 x\r\n" + host() + "\r\n", State::kError, 400},
        ParseCase{"RelativeTarget", "GET metrics HTTP/1.1\r\n" + host() + "\r\n", State::kError,
                  400},
        ParseCase{"ControlInTarget", "GET /a\x01 HTTP/1.1\r\n" + host() + "\r\n", State::kError,
                  400},
        ParseCase{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", State::kError, 400},
        ParseCase{"ObsFold", "GET / HTTP/1.1\r\n" + host() + "X-A: 1\r\n  2\r\n\r\n", State::kError,
                  400},
        ParseCase{"NoColon", "GET / HTTP/1.1\r\n" + host() + "Junk\r\n\r\n", State::kError, 400},
        ParseCase{"ControlInValue", "GET / HTTP/1.1\r\n" + host() + "X-A: a\x01z\r\n\r\n",
                  State::kError, 400},
        ParseCase{"HeadTooLarge",
                  "GET / HTTP/1.1\r\n" + host() + "X-Big: " + std::string(9000, 'a') + "\r\n\r\n",
                  State::kError, 431},
        ParseCase{"TooManyHeaders",
                  [] {
                    std::string s = "GET / HTTP/1.1\r\n" + host();
                    for (int i = 0; i < 100; ++i) {
                      s += "X-A: 1\r\n";
                    }
                    return s + "\r\n";
                  }(),
                  State::kError, 431},
        ParseCase{"TargetTooLong",
                  "GET /" + std::string(3000, 'a') + " HTTP/1.1\r\n" + host() + "\r\n",
                  State::kError, 414},
        ParseCase{"EndlessRequestLine", "GET /" + std::string(20000, 'a'), State::kError, 414}),
    [](const ::testing::TestParamInfo<ParseCase>& param_info) { return param_info.param.name; });

Request parse_ok(const std::string& text) {
  RequestParser p;
  EXPECT_EQ(p.feed(text), State::kComplete) << p.error();
  return p.request();
}

TEST(RequestParserTest, SplitsQueryFromPath) {
  Request r = parse_ok("GET /metrics?a=1&b=%20?x HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/metrics?a=1&b=%20?x");
  EXPECT_EQ(r.path, "/metrics");
  EXPECT_EQ(r.query, "a=1&b=%20?x");
  EXPECT_EQ(r.version_minor, 1);
}

TEST(RequestParserTest, KeepsPathRaw) {
  EXPECT_EQ(parse_ok("GET /a%2Fb HTTP/1.0\r\n\r\n").path, "/a%2Fb");
}

TEST(RequestParserTest, ReducesAbsoluteFormToPath) {
  Request r = parse_ok("GET http://example.org:9187/metrics?x HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(r.path, "/metrics");
  EXPECT_EQ(r.query, "x");
  EXPECT_EQ(parse_ok("GET http://example.org HTTP/1.1\r\nHost: h\r\n\r\n").path, "/");
}

TEST(RequestParserTest, HeadersAreCaseInsensitiveAndTrimmed) {
  Request r = parse_ok("HEAD / HTTP/1.1\r\nHOST:  h \r\nUser-Agent:\tprom\t\r\n\r\n");
  EXPECT_TRUE(r.is_head());
  ASSERT_NE(r.header("host"), nullptr);
  EXPECT_EQ(*r.header("Host"), "h");
  ASSERT_NE(r.header("user-agent"), nullptr);
  EXPECT_EQ(*r.header("USER-AGENT"), "prom");
  EXPECT_EQ(r.header("accept"), nullptr);
}

TEST(RequestParserTest, RejectsTlsHandshakeAtFirstByte) {
  RequestParser p;
  EXPECT_EQ(p.feed(std::string_view("\x16", 1)), State::kError);
  EXPECT_EQ(p.error_status(), 400);
}

TEST(RequestParserTest, IgnoresBytesAfterTheHead) {
  RequestParser p;
  EXPECT_EQ(p.feed("GET / HTTP/1.0\r\n\r\nGET /other HTTP/1.0\r\n\r\n"), State::kComplete);
  EXPECT_EQ(p.feed("garbage"), State::kComplete);
  EXPECT_EQ(p.request().path, "/");
}

TEST(RequestParserTest, KnowsVersionOfARejectedRequest) {
  RequestParser p;
  EXPECT_EQ(p.feed("POST / HTTP/1.0\r\n\r\n"), State::kError);
  EXPECT_TRUE(p.has_request_line());
  EXPECT_EQ(p.request().version_minor, 0);
}

// ---------------------------------------------------------------- response

struct Parsed {
  int status = 0;
  std::string head;  // status line and fields
  std::string body;  // decoded
  bool chunked = false;
  bool ok = false;  // well-formed, complete
};

// Decodes a chunked body; false when malformed or incomplete.
bool decode_chunked(std::string_view in, std::string* out) {
  for (;;) {
    size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) {
      return false;
    }
    size_t size = std::stoul(std::string(in.substr(0, eol)), nullptr, 16);
    in.remove_prefix(eol + 2);
    if (size == 0) {
      return in == "\r\n";
    }
    if (in.size() < size + 2 || in.substr(size, 2) != "\r\n") {
      return false;
    }
    out->append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

Parsed parse_response(const std::string& raw, bool head_only = false) {
  Parsed p;
  size_t end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) {
    return p;
  }
  p.status = std::stoi(raw.substr(9, 3));
  p.head = raw.substr(0, end + 2);
  std::string rest = raw.substr(end + 4);
  p.chunked = p.head.find("\r\nTransfer-Encoding: chunked\r\n") != std::string::npos;
  if (head_only) {
    p.ok = rest.empty();
  } else if (p.chunked) {
    p.ok = decode_chunked(rest, &p.body);
  } else {
    p.body = rest;
    p.ok = true;
  }
  return p;
}

TEST(ResponseTest, FormatsImfFixdate) {
  auto t = std::chrono::system_clock::from_time_t(784111777);
  EXPECT_EQ(format_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_http_date(std::chrono::system_clock::from_time_t(0)),
            "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(ResponseTest, ChunkedBodyDecodesBack) {
  Response r;
  r.body = std::string(40000, 'x') + "tail";
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{16384}, size_t{40004}, size_t{100000}}) {
    std::string wire = serialize(r, WireOptions{.chunk_size = chunk});
    Parsed p = parse_response(wire);
    EXPECT_TRUE(p.ok) << chunk;
    EXPECT_TRUE(p.chunked);
    EXPECT_EQ(p.body, r.body);
    EXPECT_TRUE(wire.ends_with("\r\n0\r\n\r\n"));
  }
  std::string wire = serialize(r, WireOptions{});
  EXPECT_NE(wire.find("\r\n4000\r\n"), std::string::npos);  // 16 KiB chunks by default
}

TEST(ResponseTest, WritesExpectedHeadExactly) {
  Response r;
  r.content_type = "text/html; charset=utf-8";
  r.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: b");
  r.body = "hi";
  std::string wire =
      serialize(r, WireOptions{.now = std::chrono::system_clock::from_time_t(784111777)});
  EXPECT_EQ(wire,
            "HTTP/1.1 200 OK\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            "Cache-Control: no-store\r\n"
            "Connection: close\r\n"
            "X-Evil: a  Set-Cookie: b\r\n"
            "Transfer-Encoding: chunked\r\n"
            "\r\n"
            "2\r\nhi\r\n0\r\n\r\n");
}

TEST(ResponseTest, HeadOnlyAndContentLength) {
  Response r;
  r.body = "hello";
  std::string head = serialize(r, WireOptions{.head_only = true});
  EXPECT_TRUE(head.ends_with("Transfer-Encoding: chunked\r\n\r\n"));
  std::string http10 = serialize(r, WireOptions{.chunked = false});
  EXPECT_TRUE(http10.ends_with("Content-Length: 5\r\n\r\nhello"));
  EXPECT_EQ(
      serialize(Response{}, WireOptions{}).substr(serialize(Response{}, WireOptions{}).size() - 5),
      "0\r\n\r\n");
}

TEST(ResponseTest, ErrorBodies) {
  for (int status : {400, 403, 404, 405, 408, 414, 431, 500, 503}) {
    Response r = Response::error(status);
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.body, std::to_string(status) + " " + reason_phrase(status) + "\n");
    EXPECT_STRNE(reason_phrase(status), "Unknown");
  }
  Response r405 = Response::error(405);
  ASSERT_EQ(r405.headers.size(), 1u);
  EXPECT_EQ(r405.headers[0].first, "Allow");
  EXPECT_EQ(r405.headers[0].second, "GET, HEAD");
}

TEST(ResponseCacheTest, ServesWithinMaxAgeOnly) {
  ResponseCache cache(1000ms, 10);
  auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  Response r;
  r.body = "m 1\n";
  cache.put("/metrics", r, t0);
  ASSERT_TRUE(cache.get("/metrics", t0 + 999ms).has_value());
  EXPECT_EQ(cache.get("/metrics", t0 + 999ms)->body, "m 1\n");
  EXPECT_FALSE(cache.get("/metrics", t0 + 1000ms).has_value());
  EXPECT_FALSE(cache.get("/", t0).has_value());
  Response big;
  big.body = std::string(11, 'x');
  cache.put("/big", big, t0);
  EXPECT_FALSE(cache.get("/big", t0).has_value());
  cache.put("/err", Response::error(500), t0);
  EXPECT_FALSE(cache.get("/err", t0).has_value());
  cache.clear();
  EXPECT_FALSE(cache.get("/metrics", t0).has_value());
}

// ---------------------------------------------------------------- server

// Runs an ev loop with an HttpServer in its own thread; stop() from the test thread.
class ServerThread {
 public:
  explicit ServerThread(ServerOptions options, int listen_port = 0) {
    ::signal(SIGPIPE, SIG_IGN);
    loop_ = ev_loop_new(EVFLAG_AUTO);
    auto fd = net::listen_tcp("127.0.0.1", listen_port, 512);
    EXPECT_TRUE(fd.has_value()) << fd.error().message();
    port_ = *net::local_port(fd->get());
    server_ = std::make_unique<HttpServer>(loop_, std::move(*fd), std::move(options));
    auto started = server_->start();
    EXPECT_TRUE(started.has_value());
    ev_async_init(&wake_, &ServerThread::on_wake);
    wake_.data = this;
    ev_async_start(loop_, &wake_);
    thread_ = std::thread([this] { ev_run(loop_, 0); });
  }
  ~ServerThread() {
    stop();
    ev_loop_destroy(loop_);
  }
  void stop() {
    if (thread_.joinable()) {
      ev_async_send(loop_, &wake_);
      thread_.join();
    }
  }
  int port() const { return port_; }
  HttpServer& server() { return *server_; }

 private:
  static void on_wake(struct ev_loop* loop, ev_async* w, int /*revents*/) {
    auto* self = static_cast<ServerThread*>(w->data);
    self->server_->stop();
    ev_async_stop(loop, w);
    ev_break(loop, EVBREAK_ALL);
  }

  struct ev_loop* loop_ = nullptr;
  ev_async wake_{};
  int port_ = 0;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads until EOF (or error/timeout).
std::string read_all(int fd) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

std::string exchange(int port, std::string_view request) {
  UniqueFd fd = test::connect_loopback(port);
  send_all(fd.get(), request);
  return read_all(fd.get());
}

// True when the peer closed (EOF or reset) within `within`.
bool closed_within(int fd, std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return false;
    }
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) {
      return true;
    }
  }
}

// Mirrors the daemon: / and /metrics, 403 elsewhere; /big is a large body for back-pressure.
Response test_handler(const Request& request) {
  Response r;
  if (request.path == "/metrics") {
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = "pgmoneta_state 1\n";
    for (int i = 0; i < 3000; ++i) {
      r.body += "pgmoneta_line{n=\"" + std::to_string(i) + "\"} 1\n";
    }
    return r;
  }
  if (request.path == "/") {
    r.content_type = "text/html; charset=utf-8";
    r.body = "<html><body>pgmoneta</body></html>\n";
    return r;
  }
  if (request.path == "/big") {
    r.body = std::string(16 << 20, 'b');
    return r;
  }
  return Response::error(403);
}

std::string metrics_body() {
  Request r;
  r.path = "/metrics";
  return test_handler(r).body;
}

ServerOptions test_options() {
  ServerOptions o;
  o.handler = test_handler;
  o.request_timeout = 300ms;
  o.write_timeout = 1000ms;
  o.name = "test";
  return o;
}

TEST(HttpServerTest, ServesMetricsChunked) {
  ServerThread st(test_options());
  Parsed p =
      parse_response(exchange(st.port(), "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.status, 200);
  EXPECT_TRUE(p.chunked);
  EXPECT_EQ(p.body, metrics_body());
  EXPECT_NE(p.head.find("\r\nDate: "), std::string::npos);
  EXPECT_NE(p.head.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_NE(p.head.find("\r\nContent-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_EQ(st.server().accepted(), 1u);
}

TEST(HttpServerTest, AnswersStatusPageHeadAndOtherPaths) {
  ServerThread st(test_options());
  Parsed page = parse_response(exchange(st.port(), "GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.head.find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("<html>"), std::string::npos);

  Parsed head =
      parse_response(exchange(st.port(), "HEAD /metrics HTTP/1.1\r\nHost: h\r\n\r\n"), true);
  EXPECT_TRUE(head.ok);  // no body bytes after the head
  EXPECT_EQ(head.status, 200);

  Parsed other = parse_response(exchange(st.port(), "GET /etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(other.status, 403);

  Parsed http10 = parse_response(exchange(st.port(), "GET /metrics HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(http10.status, 200);
  EXPECT_FALSE(http10.chunked);
  EXPECT_NE(http10.head.find("Content-Length: "), std::string::npos);
}

TEST(HttpServerTest, AnswersBadRequestsWithoutCallingHandler) {
  std::atomic<int> calls{0};
  ServerOptions o = test_options();
  o.handler = [&calls](const Request& r) {
    ++calls;
    return test_handler(r);
  };
  ServerThread st(std::move(o));
  Parsed post = parse_response(
      exchange(st.port(), "POST /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd"));
  EXPECT_EQ(post.status, 405);
  EXPECT_NE(post.head.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_EQ(parse_response(exchange(st.port(), "BLAH\r\n\r\n")).status, 400);
  EXPECT_EQ(parse_response(exchange(st.port(), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")).status, 400);
  std::string huge = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(10000, 'a') + "\r\n\r\n";
  EXPECT_EQ(parse_response(exchange(st.port(), huge)).status, 431);
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServerTest, SlowConnectionsDoNotStopOthers) {
  ServerOptions o = test_options();
  o.request_timeout = 800ms;
  ServerThread st(std::move(o));
  std::vector<UniqueFd> slow;
  auto opened = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) {
    slow.push_back(test::connect_loopback(st.port()));
    send_all(slow.back().get(), "GET /metr");
  }
  auto t0 = std::chrono::steady_clock::now();
  Parsed p = parse_response(exchange(st.port(), "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(p.status, 200);
  EXPECT_LT(took, 500ms);
  // Answered while all 200 were still held open, not after they timed out.
  EXPECT_EQ(st.server().timed_out(), 0u);
  EXPECT_GE(st.server().open_connections(), 200u);
  // The slow ones are closed at the request timeout, with a best-effort 408.
  for (auto& fd : slow) {
    ASSERT_TRUE(closed_within(fd.get(), 3000ms));
  }
  EXPECT_GE(std::chrono::steady_clock::now() - opened, 750ms);
  EXPECT_EQ(st.server().timed_out(), 200u);
  EXPECT_EQ(st.server().accepted(), 201u);
  EXPECT_EQ(st.server().rejected(), 0u);
}

TEST(HttpServerTest, SilentConnectionIsClosedAtTimeout) {
  ServerThread st(test_options());
  UniqueFd fd = test::connect_loopback(st.port());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(read_all(fd.get()).empty());  // nothing sent, nothing answered: just closed
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_EQ(st.server().timed_out(), 1u);
}

TEST(HttpServerTest, OneBytePerIntervalStillTimesOut) {
  ServerThread st(test_options());
  UniqueFd fd = test::connect_loopback(st.port());
  std::string request = "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n";
  auto t0 = std::chrono::steady_clock::now();
  for (char c : request) {
    if (::send(fd.get(), &c, 1, MSG_NOSIGNAL) != 1) {
      break;  // closed by the server
    }
    std::this_thread::sleep_for(50ms);
  }
  Parsed p = parse_response(read_all(fd.get()));
  EXPECT_EQ(p.status, 408);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
}

TEST(HttpServerTest, ClientThatNeverReadsDoesNotBlockOthers) {
  ServerOptions o = test_options();
  o.write_timeout = 2000ms;
  ServerThread st(std::move(o));
  UniqueFd lazy = test::connect_loopback(st.port());
  send_all(lazy.get(), "GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
  // Wait until the server is writing to it (the handler has run); then never read.
  pollfd wait_data{lazy.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&wait_data, 1, 5000), 1);
  auto t0 = std::chrono::steady_clock::now();
  Parsed p = parse_response(exchange(st.port(), "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(p.status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1000ms);
  // Answered while the lazy one still holds its connection, not after its timeout.
  EXPECT_EQ(st.server().timed_out(), 0u);
  EXPECT_GE(st.server().open_connections(), 1u);
  // The write timeout ends the lazy one.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while ((st.server().timed_out() < 1 || st.server().open_connections() > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(st.server().timed_out(), 1u);
  EXPECT_EQ(st.server().open_connections(), 0u);
}

TEST(HttpServerTest, RejectsBeyondMaxConnections) {
  ServerOptions o = test_options();
  o.max_connections = 2;
  o.request_timeout = 5000ms;
  ServerThread st(std::move(o));
  UniqueFd a = test::connect_loopback(st.port());
  UniqueFd b = test::connect_loopback(st.port());
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (st.server().open_connections() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  UniqueFd c = test::connect_loopback(st.port());
  Parsed p = parse_response(read_all(c.get()));
  EXPECT_EQ(p.status, 503);
  EXPECT_EQ(st.server().rejected(), 1u);
  // Once a slot is free, requests are served again.
  a.reset();
  b.reset();
  deadline = std::chrono::steady_clock::now() + 2s;
  while (st.server().open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(parse_response(exchange(st.port(), "GET / HTTP/1.0\r\n\r\n")).status, 200);
}

TEST(HttpServerTest, StopClosesListenerAndConnections) {
  ServerThread st(test_options());
  UniqueFd open = test::connect_loopback(st.port());
  send_all(open.get(), "GET /");
  int port = st.port();
  st.stop();  // HttpServer::stop() on the loop thread, then the loop ends
  EXPECT_TRUE(closed_within(open.get(), 1000ms));
  EXPECT_EQ(st.server().open_connections(), 0u);
  st.server().stop();  // idempotent
  EXPECT_FALSE(st.server().start().has_value());
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
}

TEST(HttpServerTest, AnswersConnectAndOptionsWith405) {
  ServerThread st(test_options());
  EXPECT_EQ(parse_response(exchange(st.port(), "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")).status,
            405);
  EXPECT_EQ(
      parse_response(exchange(st.port(), "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n")).status,
      405);
}

TEST(HttpServerTest, AnswersUnavailableWithoutHandler) {
  ServerOptions o = test_options();
  o.handler = nullptr;
  ServerThread st(std::move(o));
  EXPECT_EQ(parse_response(exchange(st.port(), "GET / HTTP/1.0\r\n\r\n")).status, 503);
}

// Out of descriptors, accept() fails with EMFILE while the listener stays readable: the server
// pauses accepting instead of spinning, and serves the waiting clients once descriptors free up.
TEST(HttpServerTest, RecoversFromDescriptorExhaustion) {
  ServerThread st(test_options());
  constexpr int kClients = 20;
  std::vector<UniqueFd> clients;
  clients.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  }
  // New descriptors take the lowest free number: leave exactly three free below the limit.
  int limit = 0;
  for (int free_slots = 0; free_slots < 3; ++limit) {
    free_slots += ::fcntl(limit, F_GETFD) == -1 ? 1 : 0;
  }
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(limit);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(st.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (auto& fd : clients) {
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{5, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    send_all(fd.get(), "GET / HTTP/1.0\r\n\r\n");
  }
  int ok = 0;
  for (auto& fd : clients) {
    ok += parse_response(read_all(fd.get())).status == 200 ? 1 : 0;
    fd.reset();
  }
  ::setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_EQ(ok, kClients);
  EXPECT_EQ(st.server().accepted(), static_cast<uint64_t>(kClients));
}

// ---------------------------------------------------------------- TLS

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

std::unique_ptr<SSL_CTX, SslCtxFree> server_ctx() {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_server_method()));
  std::string dir = PGM_TLS_TESTDATA;
  EXPECT_EQ(SSL_CTX_use_certificate_chain_file(ctx.get(), (dir + "/server.crt").c_str()), 1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx.get(), (dir + "/server.key").c_str(), SSL_FILETYPE_PEM),
            1);
  return ctx;
}

// A blocking TLS client that verifies the server against the test CA.
std::string tls_exchange(int port, std::string_view request) {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  std::string ca = std::string(PGM_TLS_TESTDATA) + "/root.crt";
  EXPECT_EQ(SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr), 1);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  UniqueFd fd = test::connect_loopback(port);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd.get());
  SSL_set_tlsext_host_name(ssl.get(), "localhost");
  SSL_set1_host(ssl.get(), "localhost");
  if (SSL_connect(ssl.get()) != 1) {
    ADD_FAILURE() << "SSL_connect failed";
    ERR_clear_error();
    return "";
  }
  EXPECT_EQ(SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())),
            static_cast<int>(request.size()));
  std::string out;
  char buf[16384];
  for (;;) {
    int n = SSL_read(ssl.get(), buf, sizeof(buf));
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ERR_clear_error();
  return out;
}

TEST(HttpServerTlsTest, ServesOverTls) {
  auto ctx = server_ctx();
  ServerOptions o = test_options();
  o.tls = ctx.get();
  o.write_timeout = 20s;  // 16 MiB through TLS on a busy machine
  ServerThread st(std::move(o));
  Parsed p = parse_response(tls_exchange(st.port(), "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.body, metrics_body());
  Parsed big = parse_response(tls_exchange(st.port(), "GET /big HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_TRUE(big.ok);
  EXPECT_EQ(big.body.size(), size_t{16} << 20);
  EXPECT_EQ(parse_response(tls_exchange(st.port(), "GET /x HTTP/1.1\r\nHost: h\r\n\r\n")).status,
            403);
}

TEST(HttpServerTlsTest, PlainRequestToTlsPortFailsCleanly) {
  auto ctx = server_ctx();
  ServerOptions o = test_options();
  o.tls = ctx.get();
  ServerThread st(std::move(o));
  auto t0 = std::chrono::steady_clock::now();
  std::string reply = exchange(st.port(), "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 250ms);  // closed at once, not at timeout
  EXPECT_EQ(reply.find("HTTP/1.1 200"), std::string::npos);
  // A silent client and garbage do not hurt the server either.
  UniqueFd silent = test::connect_loopback(st.port());
  exchange(st.port(), std::string(100, '\x16'));
  EXPECT_EQ(parse_response(tls_exchange(st.port(), "GET / HTTP/1.1\r\nHost: h\r\n\r\n")).status,
            200);
  EXPECT_TRUE(closed_within(silent.get(), 2000ms));
  EXPECT_GE(st.server().timed_out(), 1u);
}

}  // namespace
}  // namespace pgm::http
