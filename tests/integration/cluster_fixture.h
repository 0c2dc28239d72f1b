// ClusterTest: the fixture shared by the backup, restore, archive, verify and proven-restore
// integration tests. The suite's PostgreSQL 15 is tuned with ALTER SYSTEM, optionally gets a
// table in a tablespace (ts1, ts_table) and holds pgbench data (see ClusterSetup); each test gets
// its own daemon (not started: start_online() starts it and waits for the primary).
//
// A suite derives as `class MyTest : public ClusterTest<MyTest>` and defines
// `static ClusterSetup cluster_setup()`; set-up errors are kept per suite (suite_error()) and
// fail every test of it. Single-threaded, as the harness.
#pragma once

#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "integration/harness.h"
#include "integration/wal_helpers.h"

#include "pgm/backup/info.h"

namespace pgm::testing {

// amcheck (heapallindexed) over every permanent B-tree index: the count of indexes checked; an
// error when one is damaged. Needs CREATE EXTENSION amcheck on the source before the backup.
inline constexpr const char* kAmcheckAllBtreesSql =
    "SELECT count(bt_index_check(c.oid, true)) FROM pg_class c "
    "JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'btree' "
    "AND c.relpersistence = 'p' AND c.relkind = 'i'";

// How a suite prepares its PostgreSQL.
struct ClusterSetup {
  // ALTER SYSTEM settings ("autovacuum = off"), applied with pg_reload_conf(); none: no reload.
  std::vector<std::string> settings;
  // CREATE TABLESPACE ts1 (a directory beside the data directory) and a 20000-row ts_table in it.
  bool tablespace = false;
  int pgbench_scale = 1;
  // Set up once per process and kept at the end of the suite (for suites deriving from one
  // another); otherwise the harness starts and stops one PostgreSQL per suite.
  bool once_per_process = false;
};

// Applies `setup` to the running cluster; returns the first error ("" when all went well).
std::string prepare_cluster(PostgresInstance& pg, const ClusterSetup& setup);

template <class Suite>
class ClusterTest : public DaemonTest {
 public:
  static void SetUpTestSuite() {
    const ClusterSetup setup = Suite::cluster_setup();
    if (setup.once_per_process) {
      static bool done = false;
      if (done) {
        return;
      }
      done = true;
    }
    set_up_cluster(kDefaultPgMajor);
  }
  // SetUpTestSuite's work with PostgreSQL `major`: starts it in place of the suite's server
  // and prepares it (the first error is kept in suite_error()).
  static void set_up_cluster(int major) {
    PostgresSuite::start_suite_postgres(major);
    if (pg() == nullptr) {
      return;
    }
    std::string error = prepare_cluster(*pg(), Suite::cluster_setup());
    if (suite_error().empty()) {
      suite_error() = error;
    }
  }
  static void TearDownTestSuite() {
    if (!Suite::cluster_setup().once_per_process) {
      PostgresSuite::TearDownTestSuite();
    }
  }

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
  // Client zstd, two workers, retention checked hourly; suites add their own keys.
  void configure(IniConfig& c) override {
    c.set("pgmoneta", "compression", "zstd");
    c.set("pgmoneta", "workers", "2");
    c.set("pgmoneta", "retention_interval", "1h");
  }

  // True: start_online() also waits for the primary's WAL streaming.
  virtual bool wait_for_wal_streaming() const { return false; }

  // Starts the daemon and waits until the probe reports the primary online (and streaming WAL
  // when wait_for_wal_streaming()).
  void start_online() {
    start_daemon();
    if (HasFatalFailure()) {
      return;
    }
    const bool streaming = wait_for_wal_streaming();
    std::string last;
    auto s = wait_for_details(
        daemon(), "primary",
        [streaming](const nlohmann::json& j) {
          return json_bool(j, "Online") && (!streaming || json_bool(j, "WalStreaming"));
        },
        std::chrono::seconds(30), &last);
    ASSERT_TRUE(s.has_value()) << (streaming ? "primary not online and streaming: "
                                             : "primary not online: ")
                               << last;
  }

  // Rewrites pgmoneta.conf and reloads (the keys used must be live).
  void reload_with(const std::function<void(IniConfig&)>& change) {
    change(daemon().config());
    daemon().write_config();
    CliResult r = cli({"conf", "reload"});
    ASSERT_EQ(r.exit_code(), 0) << r.describe();
  }

  // A backup through the CLI; returns its label ("" after adding a failure).
  std::string take_backup() {
    CliResult r = cli({"backup", "primary"}, "raw");
    if (r.exit_code() != 0 || !r.json || !r.json->contains("Response")) {
      ADD_FAILURE() << "backup failed: " << r.describe();
      return "";
    }
    return (*r.json)["Response"].value("Backup", "");
  }

  // Waits until the daemon holds WAL up to the source's current insert position.
  void wait_wal_received(std::chrono::seconds timeout = std::chrono::seconds(60)) {
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
        timeout, &last);
    ASSERT_TRUE(s.has_value()) << "WAL up to " << lsn << " not received: " << last;
  }

  // Starts PostgreSQL of the source's major on a restored directory as the test user; it runs
  // until the test ends.
  PostgresInstance* start_copy(const std::string& data_dir) {
    copy_roots_.push_back(std::make_unique<TempDir>("pgm-it-copy"));
    chown_to_test_user(copy_roots_.back()->path());
    copies_.push_back(
        std::make_unique<PostgresInstance>(copy_roots_.back()->path(), pg()->major()));
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
    copy_roots_.clear();
    DaemonTest::TearDown();
  }

  // PostgreSQL instances started by start_copy(), in order.
  std::vector<std::unique_ptr<PostgresInstance>> copies_;

  // A directory for verify's work (restores, proofs) in the daemon's directory.
  std::string workspace() { return daemon().dir() / "workspace"; }

  // A whole file ("" when unreadable).
  static std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // Rewrites the file in place (its owner stays the daemon's user).
  static void write_all(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }

  // The daemon's master key (nullopt after adding a failure).
  std::optional<crypto::MasterKey> master_key() {
    std::string error;
    auto key = load_master_key_at(daemon().home() + "/.pgmoneta/master.key", &error);
    EXPECT_TRUE(key.has_value()) << error;
    return key;
  }

 private:
  std::vector<std::unique_ptr<TempDir>> copy_roots_;
};

}  // namespace pgm::testing
