// The metrics port end to end: /metrics checked by promtool and chunked, 403/405/400, the
// cache and `clear prometheus`, the status page rendered by headless Chromium, and 200 slow
// clients that must not stop the daemon from answering.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/cluster_fixture.h"
#include "support/loopback.h"
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace pgm::testing {
namespace {

using std::chrono::seconds;

// A connection to 127.0.0.1:port with a 10 s receive timeout, or -1 when refused; the caller
// closes it.
int connect_local(int port) {
  const int fd = test::try_connect_loopback(port).release();
  if (fd >= 0) {
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  return fd;
}

// Everything the peer sends until it closes (or the receive timeout); closes `fd`.
std::string read_until_close(int fd) {
  std::string raw;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    raw.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return raw;
}

struct HttpAnswer {
  int status = 0;
  std::string headers;  // lower-cased
  std::string body;     // de-chunked
  std::string error;
};

// Decodes a chunked body; empty optional on a malformed one.
std::optional<std::string> dechunk(const std::string& raw) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t eol = raw.find("\r\n", pos);
    if (eol == std::string::npos) {
      return std::nullopt;
    }
    size_t size = std::stoul(raw.substr(pos, eol - pos), nullptr, 16);
    pos = eol + 2;
    if (size == 0) {
      return out;
    }
    if (pos + size + 2 > raw.size() || raw.compare(pos + size, 2, "\r\n") != 0) {
      return std::nullopt;
    }
    out.append(raw, pos, size);
    pos += size + 2;
  }
}

// One raw request; reads until the server closes.
HttpAnswer http(int port, const std::string& request) {
  HttpAnswer a;
  int fd = connect_local(port);
  if (fd < 0) {
    a.error = "connect failed";
    return a;
  }
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string raw = read_until_close(fd);
  size_t end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) {
    a.error = "no complete answer: " + raw.substr(0, 200);
    return a;
  }
  a.status = std::atoi(raw.c_str() + 9);
  a.headers = raw.substr(0, end);
  for (char& c : a.headers) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string body = raw.substr(end + 4);
  if (a.headers.find("transfer-encoding: chunked") != std::string::npos) {
    auto d = dechunk(body);
    if (!d) {
      a.error = "bad chunked body";
      return a;
    }
    a.body = *d;
  } else {
    a.body = body;
  }
  return a;
}

HttpAnswer get(int port, const std::string& path) {
  return http(port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

// Headless Chromium with its own profile directory.
std::vector<std::string> chromium_flags(const std::string& profile) {
  return {"/usr/bin/chromium",
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--hide-scrollbars",
          "--user-data-dir=" + profile,
          "--window-size=1280,1600"};
}

// The document Chromium holds after loading `url` and running its scripts.
CommandOutput dump_dom(const std::vector<std::string>& flags, const std::string& url) {
  ProcessOptions dom;
  dom.argv = flags;
  dom.argv.push_back("--dump-dom");
  dom.argv.push_back(url);
  dom.drop_privileges = false;
  return run_command(dom, seconds(120));
}

class MetricsTest : public ClusterTest<MetricsTest> {
 public:
  static ClusterSetup cluster_setup() {
    ClusterSetup s;
    s.pgbench_scale = 1;
    return s;
  }

 protected:
  void configure(IniConfig& c) override {
    ClusterTest::configure(c);
    port_ = free_port();
    management_ = free_port();
    c.set("pgmoneta", "host", "127.0.0.1");
    c.set("pgmoneta", "metrics", std::to_string(port_));
    c.set("pgmoneta", "management", std::to_string(management_));
    c.set("pgmoneta", "authentication_timeout", "2s");
    c.set("pgmoneta", "metrics_cache_max_age", cache_age_);
  }

  // `promtool check metrics` on `text`; returns its combined output and sets `exit_code`.
  std::string promtool(const std::string& text, int* exit_code) {
    std::string file = daemon().dir().write_file("scrape.txt", text, 0644);
    ProcessOptions o;
    o.argv = {"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + file};
    o.drop_privileges = false;
    CommandOutput r = run_command(o, seconds(60));
    *exit_code = r.exit_code;
    return r.out + r.err;
  }

  int port_ = 0;
  int management_ = 0;
  std::string cache_age_ = "0";
};

TEST_F(MetricsTest, MetricsAreValidChunkedAndOtherPathsAreRefused) {
  start_online();
  ASSERT_FALSE(HasFatalFailure());
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());

  HttpAnswer m = get(port_, "/metrics");
  ASSERT_TRUE(m.error.empty()) << m.error;
  ASSERT_EQ(m.status, 200) << m.headers;
  EXPECT_NE(m.headers.find("transfer-encoding: chunked"), std::string::npos) << m.headers;
  EXPECT_NE(m.headers.find("content-type: text/plain; version=0.0.4"), std::string::npos)
      << m.headers;
  EXPECT_NE(m.headers.find("date: "), std::string::npos) << m.headers;
  EXPECT_NE(m.body.find("pgmoneta_server_online{name=\"primary\"} 1"), std::string::npos)
      << m.body.substr(0, 2000);
  EXPECT_NE(m.body.find(label), std::string::npos) << "backup " << label << " not in /metrics";
  EXPECT_NE(m.body.find("# TYPE pgmoneta_backup_size gauge"), std::string::npos);

  int rc = -1;
  std::string problems = promtool(m.body, &rc);
  EXPECT_EQ(rc, 0) << problems;
  EXPECT_EQ(trim(problems), "") << problems;

  EXPECT_EQ(get(port_, "/nope").status, 403);
  EXPECT_EQ(get(port_, "/metrics/../etc").status, 403);
  EXPECT_EQ(http(port_, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").status,
            405);
  EXPECT_EQ(http(port_, "\x16\x03\x01 garbage\r\n\r\n").status, 400);
  HttpAnswer head = http(port_, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
}

TEST_F(MetricsTest, SlowClientsDoNotStopTheDaemon) {
  start_online();
  ASSERT_FALSE(HasFatalFailure());
  // 200 clients that send half a request line and then nothing, on the metrics port, and 100
  // more that connect to the management port and say nothing.
  std::vector<int> slow;
  for (int i = 0; i < 200; ++i) {
    int fd = connect_local(port_);
    ASSERT_GE(fd, 0) << "connection " << i;
    ::send(fd, "GET /met", 8, MSG_NOSIGNAL);
    slow.push_back(fd);
  }
  for (int i = 0; i < 100; ++i) {
    int fd = connect_local(management_);
    if (fd >= 0) {
      slow.push_back(fd);
    }
  }
  // The daemon still answers on its unix socket and on the metrics port.
  CliResult ping = cli({"ping"});
  EXPECT_EQ(ping.exit_code(), 0) << ping.describe();
  HttpAnswer m = get(port_, "/metrics");
  EXPECT_EQ(m.status, 200) << m.error;
  CliResult status = cli({"status"});
  EXPECT_EQ(status.exit_code(), 0) << status.describe();
  for (int fd : slow) {
    ::close(fd);
  }
  // Remote management still works once the silent ones have timed out.
  std::this_thread::sleep_for(seconds(3));
  CommandOutput remote =
      run_command(daemon().remote_cli_options(management_, {"ping"}), seconds(60));
  EXPECT_EQ(remote.exit_code, 0) << remote.describe();
}

TEST_F(MetricsTest, ConfSetOfTheMetricsPortMovesTheListener) {
  start_online();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(get(port_, "/metrics").status, 200);
  int old_port = port_;
  port_ = free_port();
  CliResult set = cli({"conf", "set", "metrics", std::to_string(port_)});
  ASSERT_EQ(set.exit_code(), 0) << set.describe();
  HttpAnswer moved;
  for (int i = 0; i < 100 && moved.status != 200; ++i) {
    moved = get(port_, "/metrics");
    if (moved.status != 200) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_EQ(moved.status, 200) << moved.error;
  EXPECT_NE(get(old_port, "/metrics").error, "") << "the old port should be closed";
  EXPECT_EQ(cli({"ping"}).exit_code(), 0);
}

// The `nagios` port (issue 18): a connection gets pgmoneta's passive-check line built from the
// same metrics as /metrics (each sample once, label values in its name), then the close; the
// metrics port need not be on; conf set moves it.
class NagiosPortTest : public MetricsTest {
 protected:
  void configure(IniConfig& c) override {
    MetricsTest::configure(c);
    nagios_ = free_port();
    c.set("pgmoneta", "metrics", "0");
    c.set("pgmoneta", "nagios", std::to_string(nagios_));
  }

  // Everything the port sends before it closes ("" when it refuses the connection).
  static std::string check(int port) {
    int fd = connect_local(port);
    return fd < 0 ? std::string() : read_until_close(fd);
  }

  int nagios_ = 0;
};

TEST_F(NagiosPortTest, APassiveCheckLineFromTheMetricsAndConfSetMovesThePort) {
  start_online();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_FALSE(take_backup().empty());
  const std::string line = check(nagios_);
  ASSERT_EQ(line.rfind("PGMONETA OK - pgmoneta is running|", 0), 0u) << line.substr(0, 300);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  // Each performance item once.
  std::set<std::string> labels;
  std::set<std::string> items;
  std::string perf = line.substr(line.find('|') + 1);
  perf.pop_back();
  size_t count = 0;
  for (size_t at = 0; at < perf.size();) {
    size_t space = perf.find(' ', at);
    std::string item = perf.substr(at, space == std::string::npos ? std::string::npos : space - at);
    EXPECT_NE(item.find('='), std::string::npos) << item;
    labels.insert(item.substr(0, item.find('=')));
    items.insert(item);
    ++count;
    at = space == std::string::npos ? perf.size() : space + 1;
  }
  EXPECT_GT(count, 20u);
  EXPECT_EQ(labels.size(), count) << "a performance label appears twice";
  EXPECT_EQ(items.count("pgmoneta_state=1"), 1u) << perf.substr(0, 600);
  EXPECT_EQ(items.count("pgmoneta_server_valid_primary=1"), 1u) << perf.substr(0, 600);

  const int old_port = nagios_;
  nagios_ = free_port();
  CliResult set = cli({"conf", "set", "nagios", std::to_string(nagios_)});
  ASSERT_EQ(set.exit_code(), 0) << set.describe();
  std::string moved;
  for (int i = 0; i < 100 && moved.empty(); ++i) {
    moved = check(nagios_);
    if (moved.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_EQ(moved.rfind("PGMONETA OK - ", 0), 0u) << moved.substr(0, 200);
  EXPECT_EQ(check(old_port), "") << "the old port should be closed";
}

// metrics_cert_file/metrics_key_file: the port speaks HTTPS only.
class MetricsTlsTest : public MetricsTest {
 protected:
  void configure(IniConfig& c) override {
    MetricsTest::configure(c);
    std::string dir = daemon().dir().make_dir("metrics-tls");
    for (const char* f : {"server.crt", "server.key"}) {
      daemon().dir().write_file(std::string("metrics-tls/") + f,
                                read_text(std::string(PGM_TLS_TESTDATA) + "/" + f), 0600);
    }
    c.set("pgmoneta", "metrics_cert_file", dir + "/server.crt");
    c.set("pgmoneta", "metrics_key_file", dir + "/server.key");
  }
};

TEST_F(MetricsTlsTest, MetricsOverHttps) {
  start_online();
  ASSERT_FALSE(HasFatalFailure());
  std::string url = "https://127.0.0.1:" + std::to_string(port_) + "/metrics";
  ProcessOptions o;
  o.argv = {"/usr/bin/curl",
            "-sS",
            "--max-time",
            "20",
            "--cacert",
            std::string(PGM_TLS_TESTDATA) + "/root.crt",
            "-D",
            "-",
            url};
  o.drop_privileges = false;
  CommandOutput r;
  for (int i = 0; i < 50; ++i) {  // the metrics process may still be starting
    r = run_command(o, seconds(30));
    if (r.exit_code == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("200 OK"), std::string::npos) << r.out.substr(0, 500);
  EXPECT_NE(r.out.find("pgmoneta_server_online{name=\"primary\"}"), std::string::npos);
  // Plain HTTP gets no answer on the TLS port.
  EXPECT_EQ(get(port_, "/metrics").status, 0);
}

class MetricsCacheTest : public MetricsTest {
 protected:
  void configure(IniConfig& c) override {
    cache_age_ = "10m";
    MetricsTest::configure(c);
  }
};

TEST_F(MetricsCacheTest, CachedAnswersUntilClearPrometheus) {
  start_online();
  ASSERT_FALSE(HasFatalFailure());
  HttpAnswer before = get(port_, "/metrics");
  ASSERT_EQ(before.status, 200) << before.error;
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  HttpAnswer cached = get(port_, "/metrics");
  ASSERT_EQ(cached.status, 200);
  EXPECT_EQ(cached.body, before.body) << "the cache should have answered";
  EXPECT_EQ(cached.body.find(label), std::string::npos);

  CliResult clear = cli({"clear", "prometheus"});
  ASSERT_EQ(clear.exit_code(), 0) << clear.describe();
  HttpAnswer fresh = get(port_, "/metrics");
  ASSERT_EQ(fresh.status, 200);
  EXPECT_NE(fresh.body.find(label), std::string::npos) << "clear prometheus drops the cache";
}

TEST_F(MetricsTest, StatusPageRendersInChromium) {
  if (::access("/usr/bin/chromium", X_OK) != 0) {
    FAIL() << "chromium is missing: scripts/install-deps.sh installs it";
  }
  start_online();
  ASSERT_FALSE(HasFatalFailure());
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  HttpAnswer page = get(port_, "/");
  ASSERT_EQ(page.status, 200) << page.error;
  EXPECT_NE(page.headers.find("content-type: text/html"), std::string::npos) << page.headers;

  std::string png = daemon().dir() / "status.png";
  std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/";
  std::vector<std::string> flags = chromium_flags(daemon().dir().make_dir("chromium-profile"));
  ProcessOptions shot;
  shot.argv = flags;
  shot.argv.push_back("--screenshot=" + png);
  shot.argv.push_back(url);
  shot.drop_privileges = false;
  CommandOutput s = run_command(shot, seconds(120));
  ASSERT_EQ(s.exit_code, 0) << s.describe();
  std::string image = read_text(png);
  ASSERT_GT(image.size(), 10000u) << "screenshot too small";
  EXPECT_EQ(image.substr(1, 3), "PNG");

  // The text Chromium rendered (after parsing and layout) names the server and the backup.
  CommandOutput d = dump_dom(flags, url);
  ASSERT_EQ(d.exit_code, 0) << d.describe();
  EXPECT_NE(d.out.find("primary"), std::string::npos) << d.out.substr(0, 2000);
  EXPECT_NE(d.out.find(label), std::string::npos) << d.out.substr(0, 2000);
  EXPECT_NE(d.out.find("/metrics"), std::string::npos);
}

// The `console` port (issue 18): pgmoneta's web console over the metrics, served by the metrics
// process under the same rules (/ and /metrics, 403 elsewhere); its filters run in Chromium;
// conf set moves it.
class ConsolePortTest : public MetricsTest {
 protected:
  void configure(IniConfig& c) override {
    MetricsTest::configure(c);
    console_ = free_port();
    c.set("pgmoneta", "console", std::to_string(console_));
  }

  // The opening tag of the table row whose data-text starts with `text` ("" when none).
  static std::string row_of(const std::string& dom, const std::string& text) {
    size_t at = dom.find("data-text=\"" + text);
    if (at == std::string::npos) {
      return "";
    }
    size_t open = dom.rfind("<tr", at);
    return dom.substr(open, dom.find('>', at) - open);
  }

  int console_ = 0;
};

TEST_F(ConsolePortTest, TheConsoleShowsTheMetricsItsFiltersWorkAndConfSetMovesIt) {
  if (::access("/usr/bin/chromium", X_OK) != 0) {
    FAIL() << "chromium is missing: scripts/install-deps.sh installs it";
  }
  start_online();
  ASSERT_FALSE(HasFatalFailure());
  const std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  HttpAnswer page = get(console_, "/");
  ASSERT_EQ(page.status, 200) << page.error;
  EXPECT_NE(page.headers.find("content-type: text/html"), std::string::npos) << page.headers;
  EXPECT_NE(page.headers.find("transfer-encoding: chunked"), std::string::npos);
  EXPECT_NE(page.body.find("pgmoneta console"), std::string::npos);
  EXPECT_NE(page.body.find("<option value=\"primary\">primary</option>"), std::string::npos);
  EXPECT_NE(page.body.find(label), std::string::npos) << "the backup's series";
  HttpAnswer text = get(console_, "/metrics");
  ASSERT_EQ(text.status, 200) << text.error;
  EXPECT_NE(text.body.find("\npgmoneta_state 1\n"), std::string::npos);
  EXPECT_EQ(get(console_, "/admin").status, 403);
  EXPECT_EQ(get(console_, "/metrics/../etc").status, 403);
  EXPECT_EQ(get(port_, "/").body.find("pgmoneta console"), std::string::npos)
      << "the metrics port keeps its status page";

  // The filters, run by Chromium: a search and the advanced view from the URL.
  const std::string url =
      "http://127.0.0.1:" + std::to_string(console_) + "/?q=pgmoneta_server_valid&view=advanced";
  CommandOutput d = dump_dom(chromium_flags(daemon().dir().make_dir("chromium-profile")), url);
  ASSERT_EQ(d.exit_code, 0) << d.describe();
  const std::string valid = row_of(d.out, "pgmoneta_server_valid");
  const std::string state = row_of(d.out, "pgmoneta_state ");
  ASSERT_FALSE(valid.empty()) << d.out.substr(0, 3000);
  ASSERT_FALSE(state.empty()) << d.out.substr(0, 3000);
  EXPECT_EQ(valid.find("hidden"), std::string::npos) << valid;
  EXPECT_NE(state.find("hidden"), std::string::npos) << state;
  EXPECT_NE(d.out.find("<span id=\"shown\">1 shown</span>"), std::string::npos)
      << d.out.substr(0, 3000);

  const int old_port = console_;
  console_ = free_port();
  CliResult set = cli({"conf", "set", "console", std::to_string(console_)});
  ASSERT_EQ(set.exit_code(), 0) << set.describe();
  HttpAnswer moved;
  for (int i = 0; i < 100 && moved.status != 200; ++i) {
    moved = get(console_, "/");
    if (moved.status != 200) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_EQ(moved.status, 200) << moved.error;
  EXPECT_NE(moved.body.find("pgmoneta console"), std::string::npos);
  EXPECT_NE(get(old_port, "/").status, 200) << "the old port should be closed";
  // The metrics port did not move, so its listener stayed open: binding it again while the old
  // metrics process still held it once failed with "Address already in use".
  EXPECT_EQ(get(port_, "/metrics").status, 200);

  // And the other way round: the metrics port moves, the console stays where it is.
  port_ = free_port();
  set = cli({"conf", "set", "metrics", std::to_string(port_)});
  ASSERT_EQ(set.exit_code(), 0) << set.describe();
  HttpAnswer metrics;
  for (int i = 0; i < 100 && metrics.status != 200; ++i) {
    metrics = get(port_, "/metrics");
    if (metrics.status != 200) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_EQ(metrics.status, 200) << metrics.error;
  EXPECT_NE(get(console_, "/").body.find("pgmoneta console"), std::string::npos);
}

}  // namespace
}  // namespace pgm::testing
