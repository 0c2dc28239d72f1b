// RestoreTest: the fixture of the restore and archive integration tests. The suite's PostgreSQL
// 15 holds pgbench data and a table in a tablespace (set up once per process, kept for every
// suite deriving from it); each test gets its own daemon (compression zstd, two workers;
// start_online() also waits for WAL streaming) and can start further PostgreSQL instances on
// restored directories with start_copy().
// Single-threaded, as the harness.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "integration/backup_helpers.h"
#include "integration/cluster_fixture.h"
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

class RestoreTest : public ClusterTest<RestoreTest> {
 public:
  // Once per process: the suites deriving from this one share the cluster.
  static ClusterSetup cluster_setup() {
    return {.settings = {"autovacuum = off"},
            .tablespace = true,
            .pgbench_scale = 1,
            .once_per_process = true};
  }

 protected:
  void configure(IniConfig& c) override {
    ClusterTest::configure(c);
    c.set("pgmoneta", "retention", "7");
  }
  bool wait_for_wal_streaming() const override { return true; }

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
