// Runs the pg adapter against a throwaway PostgreSQL (trust auth, unix socket in a temp dir,
// no TCP). Skipped when initdb is not found. As root, the server runs as "nobody".
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pgm/pg/connection.h"
#include "pgm/pg/server_info.h"

namespace pgm::pg {
namespace {

constexpr int kPort = 5432;

std::string pg_bindir() {
  if (const char* env = std::getenv("PGM_PG_BINDIR")) {  // NOLINT(concurrency-mt-unsafe)
    return env;
  }
  std::string dir;
  if (FILE* p = ::popen("pg_config --bindir 2>/dev/null", "r")) {
    char buf[512];
    if (std::fgets(buf, sizeof buf, p) != nullptr) {
      dir = buf;
      while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' ')) {
        dir.pop_back();
      }
    }
    ::pclose(p);
  }
  if (!dir.empty() && ::access((dir + "/initdb").c_str(), X_OK) == 0) {
    return dir;
  }
  return "/usr/lib/postgresql/15/bin";
}

// Runs argv (as `run_as` when set), output to `log`; returns the exit status.
int run(const std::vector<std::string>& argv, std::optional<passwd> run_as,
        const std::string& log) {
  pid_t pid = ::fork();
  if (pid < 0) {
    return -1;
  }
  if (pid == 0) {
    if (run_as) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(run_as->pw_gid) != 0 ||
          ::setuid(run_as->pw_uid) != 0) {
        ::_exit(126);
      }
    }
    FILE* out = std::freopen(log.c_str(), "a", stdout);
    if (out != nullptr) {
      ::dup2(STDOUT_FILENO, STDERR_FILENO);
    }
    std::vector<char*> args;
    for (const std::string& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));  // NOLINT: execv's signature
    }
    args.push_back(nullptr);
    ::setenv("LC_ALL", "C", 1);  // NOLINT(concurrency-mt-unsafe): child process
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The cluster shared by the suite: started in SetUpTestSuite, stopped in TearDownTestSuite.
struct Cluster {
  std::string bindir;
  std::string dir;
  std::string skip_reason;
  std::string failure;
  std::optional<passwd> run_as;
  bool started = false;
};

Cluster& cluster() {
  static Cluster c;
  return c;
}

class PostgresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Cluster& c = cluster();
    c.bindir = pg_bindir();
    if (::access((c.bindir + "/initdb").c_str(), X_OK) != 0) {
      c.skip_reason = "initdb not found in " + c.bindir;
      return;
    }
    char tmpl[] = "/tmp/pgm-pg-test-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      c.skip_reason = "mkdtemp failed";
      return;
    }
    c.dir = tmpl;
    if (::geteuid() == 0) {
      passwd* pw = ::getpwnam("nobody");  // NOLINT(concurrency-mt-unsafe): set-up, one thread
      if (pw == nullptr) {
        c.skip_reason = "running as root and no user nobody to drop to";
        return;
      }
      c.run_as = *pw;
      if (::chown(c.dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        c.skip_reason = "chown failed";
        return;
      }
    }
    std::string log = c.dir + "/setup.log";
    if (run({c.bindir + "/initdb", "-D", c.dir + "/data", "-A", "trust", "-U", "postgres", "-N"},
            c.run_as, log) != 0) {
      c.failure = "initdb failed, see " + log;
      return;
    }
    std::string opts = "-k " + c.dir + " -p " + std::to_string(kPort) +
                       " -c listen_addresses='' -c wal_level=replica"
                       " -c track_commit_timestamp=on -c fsync=off";
    if (run({c.bindir + "/pg_ctl", "-D", c.dir + "/data", "-o", opts, "-l", c.dir + "/server.log",
             "-w", "start"},
            c.run_as, log) != 0) {
      c.failure = "pg_ctl start failed, see " + log + " and " + c.dir + "/server.log";
      return;
    }
    c.started = true;
  }

  static void TearDownTestSuite() {
    Cluster& c = cluster();
    if (c.started) {
      run({c.bindir + "/pg_ctl", "-D", c.dir + "/data", "-m", "immediate", "-w", "stop"}, c.run_as,
          c.dir + "/setup.log");
    }
    if (!c.dir.empty() && c.failure.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(c.dir, ec);  // best effort: a leftover only costs disk
    }
  }

  void SetUp() override {
    Cluster& c = cluster();
    if (!c.skip_reason.empty()) {
      GTEST_SKIP() << c.skip_reason;
    }
    ASSERT_TRUE(c.failure.empty()) << c.failure;
  }

  static ConnectParams params() {
    Cluster& c = cluster();
    ConnectParams p;
    p.host = c.dir;
    p.port = kPort;
    p.user = "postgres";
    return p;
  }
};

TEST_F(PostgresTest, ProbeReadsServerSettings) {
  auto conn = Connection::connect(params());
  ASSERT_TRUE(conn) << conn.error().message();
  EXPECT_GE(conn->server_version(), 150000);
  auto info = probe(*conn);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_GE(info->version_num, 150000);
  EXPECT_EQ(info->major, info->version_num / 10000);
  EXPECT_EQ(info->wal_level, "replica");
  EXPECT_TRUE(info->track_commit_timestamp);
  EXPECT_EQ(info->block_size, 8192u);
  EXPECT_EQ(info->wal_segment_size, 16u * 1024 * 1024);
  EXPECT_EQ(info->segment_size, 1024ull * 1024 * 1024);
  EXPECT_FALSE(info->in_recovery);
  EXPECT_EQ(info->summarize_wal.has_value(), info->version_num >= 170000);
  EXPECT_TRUE(check_usable(*info));
}

TEST_F(PostgresTest, QueryReturnsRowsAndNulls) {
  auto conn = Connection::connect(params());
  ASSERT_TRUE(conn) << conn.error().message();
  auto r = conn->query("SELECT 'a' AS x, NULL::text AS y UNION ALL SELECT 'b', 'c'");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->kind(), QueryResult::Kind::kTuples);
  ASSERT_EQ(r->rows(), 2);
  ASSERT_EQ(r->columns(), 2);
  EXPECT_EQ(r->column_name(1), "y");
  EXPECT_EQ(r->column_index("y"), 1);
  EXPECT_EQ(r->value(0, 0), "a");
  EXPECT_TRUE(r->is_null(0, 1));
  EXPECT_EQ(r->value(1, 1), "c");
  EXPECT_EQ(r->value(5, 5), "");
}

TEST_F(PostgresTest, ServerErrorCarriesSqlstate) {
  auto conn = Connection::connect(params());
  ASSERT_TRUE(conn) << conn.error().message();
  auto r = conn->query("SHOW no_such_setting");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kServer);
  EXPECT_EQ(r.error().sqlstate(), "42704");
  EXPECT_NE(r.error().message().find("no_such_setting"), std::string::npos);
  // The connection stays usable after a statement error.
  auto ok = conn->query("SELECT 1");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->value(0, 0), "1");
}

TEST_F(PostgresTest, ReplicationConnectionRunsIdentifySystem) {
  ConnectParams p = params();
  p.replication = true;
  auto conn = Connection::connect(p);
  ASSERT_TRUE(conn) << conn.error().message();
  auto r = conn->query("IDENTIFY_SYSTEM");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->rows(), 1);
  EXPECT_GE(r->columns(), 4);
  EXPECT_FALSE(r->value(0, r->column_index("systemid")).empty());
}

TEST_F(PostgresTest, ClosedConnectionRefusesQueries) {
  auto conn = Connection::connect(params());
  ASSERT_TRUE(conn) << conn.error().message();
  conn->close();
  EXPECT_FALSE(conn->is_open());
  auto r = conn->query("SELECT 1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
}

}  // namespace
}  // namespace pgm::pg
