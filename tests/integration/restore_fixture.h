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
};

}  // namespace pgm::testing
