// Remote management end to end: pgmoneta-cli -h/-p/-U/-P against the real daemon's `management`
// port (plain and TLS, with and without -C/-E), refusals (wrong password, unknown user, wrong
// database), libpq's own SCRAM client (psql) against our server side, and SIGUSR1 moving the
// port after `conf set`.
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"
#include "support/loopback.h"
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

namespace pgm::testing {
namespace {

using std::chrono::seconds;

constexpr const char* kTlsData = PGM_TLS_TESTDATA;

// Number of lines of `text` containing `needle`.
size_t count_lines(const std::string& text, const std::string& needle) {
  size_t n = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    if (text.substr(start, end - start).find(needle) != std::string::npos) {
      ++n;
    }
    start = end + 1;
  }
  return n;
}

// True when something accepts TCP connections on 127.0.0.1:port.
bool port_open(int port) { return test::try_connect_loopback(port).valid(); }

class RemoteManagementTest : public DaemonTest {
 protected:
  void configure(IniConfig& c) override {
    port_ = free_port();
    c.set("pgmoneta", "host", "127.0.0.1");
    c.set("pgmoneta", "management", std::to_string(port_));
    c.set("pgmoneta", "authentication_timeout", "2s");
    c.set("pgmoneta", "blocking_timeout", "2s");  // psql never sends a frame: not 30 s each
    if (tls_) {
      std::string dir = daemon_dir_for_tls();
      c.set("pgmoneta", "tls", "on");
      c.set("pgmoneta", "tls_cert_file", dir + "/server.crt");
      c.set("pgmoneta", "tls_key_file", dir + "/server.key");
      c.set("pgmoneta", "tls_ca_file", dir + "/root.crt");
    }
  }

  // Copies the server's certificate and key where the daemon's user may read them (0600).
  std::string daemon_dir_for_tls() {
    if (tls_dir_.empty()) {
      tls_dir_ = tls_files_.make_dir("server");
      for (const char* f : {"server.crt", "server.key", "root.crt"}) {
        tls_files_.write_file(std::string("server/") + f,
                              read_text(std::string(kTlsData) + "/" + f), 0600);
      }
    }
    return tls_dir_;
  }

  // Gives pgmoneta-cli a client certificate ($HOME/.pgmoneta/pgmoneta.crt/.key, root.crt).
  void install_client_certificate() {
    std::string pgm = daemon().home() + "/.pgmoneta";
    for (auto [from, to] :
         {std::pair{"client.crt", "pgmoneta.crt"}, std::pair{"client.key", "pgmoneta.key"},
          std::pair{"root.crt", "root.crt"}}) {
      std::string path = pgm + "/" + to;
      std::string data = read_text(std::string(kTlsData) + "/" + from);
      FILE* f = std::fopen(path.c_str(), "w");
      ASSERT_NE(f, nullptr) << path;
      std::fwrite(data.data(), 1, data.size(), f);
      std::fclose(f);
      ::chmod(path.c_str(), 0600);
      chown_to_test_user(path);
    }
  }

  // pgmoneta-cli against the TCP port, without the unix-socket configuration.
  CommandOutput remote(const std::vector<std::string>& args, const std::string& password,
                       const std::string& user = DaemonInstance::kAdminUser) {
    return run_command(daemon().remote_cli_options(port_, args, user, password), seconds(60));
  }

  // psql as libpq's SCRAM client against the management port.
  CommandOutput psql(const std::string& conninfo, const std::string& password) {
    ProcessOptions o;
    o.argv = {"/usr/bin/psql", "-X", "-w", "-c", "select 1", conninfo};
    o.env["PGPASSWORD"] = password;
    o.env["PGCONNECT_TIMEOUT"] = "10";
    o.home = daemon().home();
    return run_command(o, seconds(60));
  }

  std::string conninfo(const std::string& extra = "") const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=admin user=admin " + extra;
  }

  int port_ = 0;
  bool tls_ = false;
  TempDir tls_files_{"pgm-tls"};
  std::string tls_dir_;
};

TEST_F(RemoteManagementTest, PingStatusAndListBackupWithTheRightPassword) {
  CommandOutput ping = remote({"ping"}, DaemonInstance::kAdminPassword);
  ASSERT_EQ(ping.exit_code, 0) << ping.describe();

  CommandOutput status = remote({"-F", "json", "status"}, DaemonInstance::kAdminPassword);
  ASSERT_EQ(status.exit_code, 0) << status.describe();
  EXPECT_NE(status.out.find("primary"), std::string::npos) << status.out;

  CommandOutput list =
      remote({"-F", "json", "list-backup", "primary"}, DaemonInstance::kAdminPassword);
  ASSERT_EQ(list.exit_code, 0) << list.describe();
  EXPECT_NE(list.out.find("\"Server\""), std::string::npos) << list.out;

  // Payload compression and encryption ride inside the authenticated session.
  for (const char* c : {"zstd", "gz", "lz4", "bz2"}) {
    CommandOutput r =
        remote({"-C", c, "-E", "aes", "-F", "json", "status"}, DaemonInstance::kAdminPassword);
    EXPECT_EQ(r.exit_code, 0) << c << ": " << r.describe();
    EXPECT_NE(r.out.find("primary"), std::string::npos) << c << ": " << r.out;
  }
  EXPECT_TRUE(daemon().wait_for_log("remote management: user \"admin\""));
}

TEST_F(RemoteManagementTest, WrongPasswordUnknownUserAndWrongDatabaseAreRefused) {
  expect_log_errors({});
  CommandOutput wrong = remote({"ping"}, "not-the-password");
  EXPECT_NE(wrong.exit_code, 0) << wrong.describe();
  EXPECT_NE(wrong.err.find("password authentication failed for user \"admin\""), std::string::npos)
      << wrong.describe();

  CommandOutput nobody = remote({"ping"}, "whatever", "nobody");
  EXPECT_NE(nobody.exit_code, 0) << nobody.describe();
  // The same answer as a wrong password: the client learns nothing about which users exist.
  EXPECT_NE(nobody.err.find("password authentication failed for user \"nobody\""),
            std::string::npos)
      << nobody.describe();

  CommandOutput db = psql("host=127.0.0.1 port=" + std::to_string(port_) +
                              " dbname=postgres user=admin sslmode=disable",
                          DaemonInstance::kAdminPassword);
  EXPECT_NE(db.exit_code, 0) << db.describe();
  EXPECT_NE(db.err.find("database \"postgres\" does not exist"), std::string::npos)
      << db.describe();

  // Each failed login is logged once.
  ASSERT_TRUE(daemon().wait_for_log("user \"nobody\""));
  std::string log = daemon().log();
  EXPECT_EQ(count_lines(log, "authentication failed for user \"admin\""), 1u) << tail(log);
  EXPECT_EQ(count_lines(log, "authentication failed for user \"nobody\""), 1u) << tail(log);
  EXPECT_EQ(log.find("not-the-password"), std::string::npos);

  // The daemon is unharmed.
  CommandOutput ping = remote({"ping"}, DaemonInstance::kAdminPassword);
  EXPECT_EQ(ping.exit_code, 0) << ping.describe();
}

TEST_F(RemoteManagementTest, FailedLoginsAreSlowedDownOneLineEachAndSummarized) {
  expect_log_errors({});
  // Delays of 250, 500, 1000 and 2000 ms: the fourth refusal comes at least 2 s after the
  // password was sent (a lower bound: a sleep does not end early).
  std::chrono::steady_clock::duration fourth{};
  for (int i = 0; i < 4; ++i) {
    auto start = std::chrono::steady_clock::now();
    CommandOutput wrong = remote({"ping"}, "guess-" + std::to_string(i));
    fourth = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(wrong.exit_code, 3) << wrong.describe();
    EXPECT_NE(wrong.err.find("password authentication failed"), std::string::npos)
        << wrong.describe();
  }
  EXPECT_GE(fourth, std::chrono::milliseconds(2000));
  // The right password is not held back, and clears the source's failures.
  CommandOutput ping = remote({"ping"}, DaemonInstance::kAdminPassword);
  EXPECT_EQ(ping.exit_code, 0) << ping.describe();
  // A summary names the source; each failure is one line, nothing else warns about it.
  ASSERT_TRUE(daemon().wait_for_log("by source: 127.0.0.1 (", seconds(15))) << tail(daemon().log());
  std::string log = daemon().log();
  EXPECT_EQ(count_lines(log, "authentication failed for user \"admin\""), 4u) << tail(log);
  EXPECT_EQ(count_lines(log, "(remote) exited with code"), 0u) << tail(log);
}

// authentication_timeout long enough that idle connections would hold their sessions for the
// whole test.
class RemoteLoginLimitTest : public RemoteManagementTest {
 protected:
  void configure(IniConfig& c) override {
    RemoteManagementTest::configure(c);
    c.set("pgmoneta", "authentication_timeout", "60s");
  }
};

TEST_F(RemoteLoginLimitTest, IdleConnectionsCannotLockAnAdminOut) {
  // 70 connections that never say anything, more than the 64 sessions the daemon serves.
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 70; ++i) {
    idle.push_back(test::try_connect_loopback(port_));
    ASSERT_TRUE(idle.back().valid()) << i;
  }
  // Those beyond the per-source limit of 16 are refused at once with PostgreSQL's 53300, or
  // evicted by a later one when the daemon took more than a second to get to it (a loaded
  // machine): at most 16 stay open.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  size_t refused = 0;
  size_t open = 0;
  for (UniqueFd& fd : idle) {
    char buf[256] = {};
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf) - 1, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      ++open;
    }
    if (n > 5 && buf[0] == 'E' &&
        std::string(buf + 5, static_cast<size_t>(n) - 5).find("53300") != std::string::npos) {
      ++refused;
    }
  }
  EXPECT_LE(open, 16u);
  EXPECT_GE(refused, 1u);
  // The idle ones still open give way to a real admin.
  CommandOutput ping = remote({"ping"}, DaemonInstance::kAdminPassword);
  EXPECT_EQ(ping.exit_code, 0) << ping.describe() << tail(daemon().log());
}

TEST_F(RemoteManagementTest, PsqlScramReachesThePointAfterAuthenticationOk) {
  CommandOutput good = psql(conninfo("sslmode=disable"), DaemonInstance::kAdminPassword);
  // Authentication succeeds; psql then fails on what follows (no ReadyForQuery: this is not
  // a SQL server), never with an authentication error.
  EXPECT_NE(good.exit_code, 0) << good.describe();
  EXPECT_EQ(good.err.find("authentication failed"), std::string::npos) << good.describe();
  EXPECT_EQ(good.err.find("SCRAM"), std::string::npos) << good.describe();
  // The daemon saw an authenticated admin that then sent no management frame.
  EXPECT_TRUE(daemon().wait_for_log("remote management: user \"admin\": ")) << tail(daemon().log());

  CommandOutput bad = psql(conninfo("sslmode=disable"), "wrong-password");
  EXPECT_NE(bad.exit_code, 0) << bad.describe();
  EXPECT_NE(bad.err.find("password authentication failed for user \"admin\""), std::string::npos)
      << bad.describe();

  // Without `tls = on` the daemon answers SSLRequest with 'N'.
  CommandOutput require = psql(conninfo("sslmode=require"), DaemonInstance::kAdminPassword);
  EXPECT_NE(require.exit_code, 0);
  EXPECT_NE(require.err.find("does not support SSL"), std::string::npos) << require.describe();
}

TEST_F(RemoteManagementTest, ConfSetOfTheManagementPortMovesTheListener) {
  int old_port = port_;
  int new_port = free_port();
  CliResult set = cli({"conf", "set", "management", std::to_string(new_port)});
  ASSERT_EQ(set.exit_code(), 0) << set.describe();
  port_ = new_port;
  bool moved = false;
  for (int i = 0; i < 100 && !moved; ++i) {
    moved = port_open(new_port) && !port_open(old_port);
    if (!moved) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(moved) << tail(daemon().log());
  CommandOutput ping = remote({"ping"}, DaemonInstance::kAdminPassword);
  EXPECT_EQ(ping.exit_code, 0) << ping.describe();
  // Other work goes on: the local socket still answers.
  EXPECT_EQ(cli({"ping"}).exit_code(), 0);

  CliResult off = cli({"conf", "set", "management", "0"});
  ASSERT_EQ(off.exit_code(), 0) << off.describe();
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    closed = !port_open(new_port);
    if (!closed) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(closed);
}

TEST_F(RemoteManagementTest, SilentClientIsClosedAfterAuthenticationTimeout) {
  // authentication_timeout = 2s: a client that connects and says nothing is dropped.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port_));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  timeval tv{20, 0};  // far beyond the timeout: recv must return because the daemon closed
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char c = 0;
  ssize_t n = ::recv(fd, &c, 1, 0);
  ::close(fd);
  EXPECT_EQ(n, 0) << "expected the daemon to close the connection";
  EXPECT_TRUE(daemon().wait_for_log("remote management")) << tail(daemon().log());
}

TEST_F(RemoteManagementTest, ConfReloadIsRefusedRemotely) {
  CommandOutput reload = remote({"conf", "reload"}, DaemonInstance::kAdminPassword);
  EXPECT_EQ(reload.exit_code, 1) << reload.describe();
  EXPECT_NE(reload.err.find("local unix socket"), std::string::npos) << reload.describe();
  // conf set works remotely (it changes memory, not files).
  CommandOutput set =
      remote({"conf", "set", "log_level", "debug1"}, DaemonInstance::kAdminPassword);
  EXPECT_EQ(set.exit_code, 0) << set.describe();
}

// Many processes of the daemon (one per remote session, plus the main process) log into one file
// that rotates every few kilobytes: every line arrives whole, none is lost.
class RemoteLogRotationTest : public RemoteManagementTest {
 protected:
  void configure(IniConfig& c) override {
    RemoteManagementTest::configure(c);
    c.set("pgmoneta", "log_rotation_size", "1K");
  }
};

TEST_F(RemoteLogRotationTest, ConcurrentSessionsAcrossSizeRotationsLoseNoLine) {
  constexpr int kClients = 40;
  std::vector<Process> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(Process::start(daemon().remote_cli_options(port_, {"ping"})));
    ASSERT_GT(clients.back().pid(), 0) << clients.back().error();
  }
  for (Process& p : clients) {
    auto status = p.wait_for(seconds(60));
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 0);
  }
  // Each session logs its command once; the main process logs the forks and exits at debug.
  std::string dir = daemon().dir().path();
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename();
    if (name.rfind("pgmoneta.log", 0) == 0) {
      files.push_back(entry.path());
    }
  }
  EXPECT_GE(files.size(), 2u) << "the log should have rotated";
  size_t sessions = 0;
  const std::regex prefix(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d )");
  for (const std::string& f : files) {
    std::string text = read_text(f);
    ASSERT_TRUE(text.empty() || text.back() == '\n') << f << " ends in a partial line";
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      std::string line = text.substr(start, end - start);
      start = end + 1;
      // "YYYY-MM-DD HH:MM:SS LEVEL message": the prefix starts every line, once.
      ASSERT_GE(line.size(), 20u) << f << ": " << line;
      EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(line[0])) && line[4] == '-' &&
                  line[13] == ':' && line[19] == ' ')
          << f << ": " << line;
      EXPECT_FALSE(std::regex_search(line.substr(1), prefix)) << "two lines run together: " << line;
      if (line.find("remote management: user \"admin\" from 127.0.0.1:") != std::string::npos) {
        ++sessions;
      }
    }
  }
  EXPECT_EQ(sessions, static_cast<size_t>(kClients));
}

class RemoteManagementTlsTest : public RemoteManagementTest {
 protected:
  void configure(IniConfig& c) override {
    tls_ = true;
    RemoteManagementTest::configure(c);
  }
};

TEST_F(RemoteManagementTlsTest, CliWithAClientCertificateTalksTls) {
  install_client_certificate();
  CommandOutput ping = remote({"ping"}, DaemonInstance::kAdminPassword);
  ASSERT_EQ(ping.exit_code, 0) << ping.describe();
  CommandOutput status = remote({"-C", "zstd", "-E", "aes", "-F", "json", "list-backup", "primary"},
                                DaemonInstance::kAdminPassword);
  EXPECT_EQ(status.exit_code, 0) << status.describe();
  EXPECT_TRUE(daemon().wait_for_log("remote management: user \"admin\" from 127.0.0.1:"))
      << tail(daemon().log());
  EXPECT_NE(daemon().log().find(" over TLS: list-backup"), std::string::npos)
      << tail(daemon().log());

  CommandOutput wrong = remote({"ping"}, "wrong");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("password authentication failed"), std::string::npos)
      << wrong.describe();
}

TEST_F(RemoteManagementTlsTest, LoginsWithoutTlsAreRefused) {
  expect_log_errors({});
  // libpq without SSL: refused before any password is asked for, as a hostssl pg_hba.conf does.
  CommandOutput plain = psql(conninfo("sslmode=disable"), DaemonInstance::kAdminPassword);
  EXPECT_NE(plain.exit_code, 0) << plain.describe();
  EXPECT_NE(plain.err.find("remote management requires TLS"), std::string::npos)
      << plain.describe();
  EXPECT_TRUE(daemon().wait_for_log("did not ask for TLS and tls = on requires it"))
      << tail(daemon().log());
  // pgmoneta-cli without a client certificate asks for TLS all the same and gets in.
  CommandOutput ping = remote({"ping"}, DaemonInstance::kAdminPassword);
  EXPECT_EQ(ping.exit_code, 0) << ping.describe();
  EXPECT_TRUE(daemon().wait_for_log(" over TLS: ping")) << tail(daemon().log());
}

TEST_F(RemoteManagementTlsTest, PsqlOverTlsAuthenticates) {
  CommandOutput good = psql(conninfo("sslmode=require"), DaemonInstance::kAdminPassword);
  EXPECT_NE(good.exit_code, 0) << good.describe();
  EXPECT_EQ(good.err.find("authentication failed"), std::string::npos) << good.describe();
  EXPECT_EQ(good.err.find("does not support SSL"), std::string::npos) << good.describe();
  // The daemon saw an authenticated admin that then sent no management frame.
  EXPECT_TRUE(daemon().wait_for_log("remote management: user \"admin\": ")) << tail(daemon().log());

  CommandOutput bad = psql(conninfo("sslmode=require"), "wrong-password");
  EXPECT_NE(bad.err.find("password authentication failed for user \"admin\""), std::string::npos)
      << bad.describe();
}

// Start-up refuses a TCP service it cannot provide, naming why, and leaves nothing behind.
class ServiceStartupTest : public DaemonTest {
 protected:
  bool auto_start() const override { return false; }

  // Starts the daemon expecting it to stop with an error; returns its stderr.
  std::string start_failing() {
    daemon().write_config();
    Process p = daemon().launch();
    EXPECT_GT(p.pid(), 0) << p.error();
    std::optional<int> status = p.wait_for(seconds(15));
    EXPECT_TRUE(status.has_value()) << "the daemon kept running";
    if (status) {
      EXPECT_NE(*status, 0);
    }
    EXPECT_FALSE(path_exists(daemon().socket_path()));
    EXPECT_FALSE(path_exists(daemon().pid_file()));
    return daemon().stderr_text() + daemon().log();
  }
};

TEST_F(ServiceStartupTest, BusyMetricsPortStopsTheStartWithTheReason) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  daemon().config().set("pgmoneta", "host", "127.0.0.1");
  daemon().config().set("pgmoneta", "metrics", std::to_string(port));
  std::string out = start_failing();
  ::close(fd);
  EXPECT_NE(out.find("metrics port"), std::string::npos) << out;
  EXPECT_NE(out.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << out;
  EXPECT_NE(out.find("Address already in use"), std::string::npos) << out;
  expect_log_errors({"metrics port"});
}

TEST_F(ServiceStartupTest, MissingTlsCertificateStopsTheStartNamingTheFile) {
  daemon().config().set("pgmoneta", "host", "127.0.0.1");
  daemon().config().set("pgmoneta", "management", std::to_string(free_port()));
  daemon().config().set("pgmoneta", "tls", "on");
  daemon().config().set("pgmoneta", "tls_cert_file", "/nonexistent/server.crt");
  daemon().config().set("pgmoneta", "tls_key_file", "/nonexistent/server.key");
  std::string out = start_failing();
  EXPECT_NE(out.find("/nonexistent/server"), std::string::npos) << out;
  expect_log_errors({"tls", "server.crt", "server.key"});
}

}  // namespace
}  // namespace pgm::testing
