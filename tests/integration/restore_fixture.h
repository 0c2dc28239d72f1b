// RestoreTest: the fixture of the restore and archive integration tests. The suite's PostgreSQL
// 15 holds pgbench data and a table in a tablespace (set up once per process, kept for every
// suite deriving from it); each test gets its own daemon (compression zstd, two workers) and
// can start further PostgreSQL instances on restored directories with start_copy().
// Single-threaded, as the harness.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "integration/backup_helpers.h"
#include "integration/harness.h"
#include "integration/wal_helpers.h"

#include "pgm/backup/info.h"

namespace pgm::testing {

// One line per table: row count and a sum of row hashes, so any lost or changed row shows.
inline constexpr const char* kChecksumSql =
    "SELECT concat_ws(' ', "
    "(SELECT count(*) || ':' || sum(hashtext(a::text)) FROM pgbench_accounts a), "
    "(SELECT count(*) || ':' || sum(hashtext(b::text)) FROM pgbench_branches b), "
    "(SELECT count(*) || ':' || sum(hashtext(t::text)) FROM pgbench_tellers t), "
    "(SELECT count(*) || ':' || coalesce(sum(hashtext(h::text)), 0) FROM pgbench_history h), "
    "(SELECT count(*) || ':' || sum(hashtext(x::text)) FROM ts_table x))";

class RestoreTest : public DaemonTest {
 public:
  static void SetUpTestSuite() {
    static bool done = false;
    if (done) {
      return;
    }
    done = true;
    PostgresSuite::SetUpTestSuite();
    if (pg() == nullptr) {
      return;
    }
    auto fail = [](const std::string& what) {
      if (suite_error().empty()) {
        suite_error() = what;
      }
    };
    for (const char* sql : {"ALTER SYSTEM SET autovacuum = off", "SELECT pg_reload_conf()"}) {
      CommandOutput r = pg()->psql(sql);
      if (r.exit_code != 0) {
        fail(std::string(sql) + ": " + r.describe());
      }
    }
    std::string ts_dir =
        std::filesystem::path(pg()->data_dir()).parent_path().string() + "/tablespace1";
    std::filesystem::create_directories(ts_dir);
    chown_to_test_user(ts_dir);
    for (const std::string& sql :
         {"CREATE TABLESPACE ts1 LOCATION '" + ts_dir + "'",
          std::string("CREATE TABLE ts_table TABLESPACE ts1 AS SELECT g, md5(g::text) AS h FROM "
                      "generate_series(1, 20000) g")}) {
      CommandOutput r = pg()->psql(sql);
      if (r.exit_code != 0) {
        fail(sql + ": " + r.describe());
      }
    }
    CommandOutput bench = pg()->run_tool("pgbench", {"-i", "-q", "-s", "1"});
    if (bench.exit_code != 0) {
      fail("pgbench -i: " + bench.describe());
    }
  }
  static void TearDownTestSuite() {}

 protected:
  static std::string& suite_error() {
    static std::string error;
    return error;
  }

  void SetUp() override {
    DaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    ASSERT_TRUE(suite_error().empty()) << suite_error();
  }

  bool auto_start() const override { return false; }
  void configure(IniConfig& c) override {
    c.set("pgmoneta", "compression", "zstd");
    c.set("pgmoneta", "workers", "2");
    c.set("pgmoneta", "retention", "7");
    c.set("pgmoneta", "retention_interval", "1h");
  }

  void start_online() {
    start_daemon();
    if (HasFatalFailure()) {
      return;
    }
    std::string last;
    auto s = wait_for_details(
        daemon(), "primary",
        [](const nlohmann::json& j) {
          return json_bool(j, "Online") && json_bool(j, "WalStreaming");
        },
        std::chrono::seconds(30), &last);
    ASSERT_TRUE(s.has_value()) << "primary not online and streaming: " << last;
  }

  void reload_with(const std::function<void(IniConfig&)>& change) {
    change(daemon().config());
    daemon().write_config();
    CliResult r = cli({"conf", "reload"});
    ASSERT_EQ(r.exit_code(), 0) << r.describe();
  }

  std::string take_backup() {
    CliResult r = cli({"backup", "primary"}, "raw");
    if (r.exit_code() != 0 || !r.json || !r.json->contains("Response")) {
      ADD_FAILURE() << "backup failed: " << r.describe();
      return "";
    }
    return (*r.json)["Response"].value("Backup", "");
  }

  std::string checksums(const PostgresInstance& instance) {
    bool ok = false;
    std::string v = sql_value(instance, kChecksumSql, &ok);
    EXPECT_TRUE(ok) << v;
    return v;
  }

  // A fresh directory for restores, owned by the test user (the daemon's user).
  std::string restore_parent(const std::string& name) { return daemon().dir().make_dir(name); }

  // Waits until the daemon holds WAL up to the source's current insert position.
  void wait_wal_received() {
    bool ok = false;
    std::string lsn = sql_value(*pg(), "SELECT pg_current_wal_lsn()", &ok);
    ASSERT_TRUE(ok) << lsn;
    auto target = backup::parse_lsn(lsn);
    ASSERT_TRUE(target.has_value()) << lsn;
    std::string last;
    auto s = wait_for_details(
        daemon(), "primary",
        [&](const nlohmann::json& j) {
          auto flushed = backup::parse_lsn(json_string(j, "WalFlushedLsn"));
          return flushed && *flushed >= *target;
        },
        std::chrono::seconds(30), &last);
    ASSERT_TRUE(s.has_value()) << "WAL up to " << lsn << " not received: " << last;
  }

  // Starts PostgreSQL on a restored directory; the instance lives until the test ends.
  PostgresInstance* start_copy(const std::string& data_dir) {
    roots_.push_back(std::make_unique<TempDir>("pgm-it-copy"));
    chown_to_test_user(roots_.back()->path());
    copies_.push_back(std::make_unique<PostgresInstance>(roots_.back()->path()));
    std::string error = copies_.back()->start_restored(data_dir);
    if (!error.empty()) {
      ADD_FAILURE() << "PostgreSQL on " << data_dir << " did not start: " << error << "\n"
                    << tail(copies_.back()->log());
      return nullptr;
    }
    return copies_.back().get();
  }

  void TearDown() override {
    copies_.clear();  // stops them
    roots_.clear();
    DaemonTest::TearDown();
  }

  std::vector<std::unique_ptr<TempDir>> roots_;
  std::vector<std::unique_ptr<PostgresInstance>> copies_;
};

}  // namespace pgm::testing
