// Hot standby end to end: two hot_standby directories (the first with an override directory
// and pgmoneta's default tablespace location, the second with a tablespace mapping) follow a
// full backup and then an incremental one taken through pgmoneta-cli. PostgreSQL 15 starts on
// each copy with the source's data at the backup's end; the second update writes fewer files
// than the first (unchanged ones are linked from the previous copy) and the copy then holds
// the new data.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>

#include "integration/harness.h"
#include "integration/restore_fixture.h"
#include "integration/wal_helpers.h"

namespace pgm::testing {
namespace {

namespace fs = std::filesystem;

class HotStandbyTest : public RestoreTest {
 protected:
  // The backup's answer ("Response"), after a failure an empty object.
  nlohmann::json backup(const std::vector<std::string>& args) {
    CliResult r = cli(args, "raw");
    if (r.exit_code() != 0 || !r.json || !r.json->contains("Response")) {
      ADD_FAILURE() << "backup failed: " << r.describe();
      return nlohmann::json::object();
    }
    return (*r.json)["Response"];
  }

  // Starts PostgreSQL on `copy`, returns the table checksums and cluster_name, stops it.
  std::pair<std::string, std::string> look_into(const std::string& copy) {
    PostgresInstance* started = start_copy(copy);
    if (started == nullptr) {
      return {};
    }
    std::pair<std::string, std::string> seen{checksums(*started),
                                             sql_value(*started, "SHOW cluster_name")};
    started->stop();
    return seen;
  }

  static std::string link_target(const std::string& link) {
    std::error_code ec;
    return fs::read_symlink(link, ec).string();
  }
};

TEST_F(HotStandbyTest, TwoCopiesFollowAFullThenAnIncrementalBackup) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  const std::string a = restore_parent("standby-a");
  const std::string b = restore_parent("standby-b");
  const std::string overrides = restore_parent("standby-overrides");
  write_all(overrides + "/postgresql.auto.conf",
            "autovacuum = off\ncluster_name = 'hot_standby_override'\n");
  const std::string ts_b = daemon().dir() / "standby-b-ts1";
  const std::string ts_source = fs::path(pg()->data_dir()).parent_path().string() + "/tablespace1";
  ASSERT_NO_FATAL_FAILURE(reload_with([&](IniConfig& c) {
    c.set("primary", "hot_standby", a + "," + b);
    c.set("primary", "hot_standby_overrides", overrides);
    c.set("primary", "hot_standby_tablespaces", " | ts1 -> " + ts_b);
  }));
  bool ok = false;
  const std::string oid =
      sql_value(*pg(), "SELECT oid FROM pg_tablespace WHERE spcname = 'ts1'", &ok);
  ASSERT_TRUE(ok) << oid;

  // 1. A full backup: both copies are made whole.
  CommandOutput bench = pg()->run_tool("pgbench", {"-n", "-t", "50", "-c", "1"});
  ASSERT_EQ(bench.exit_code, 0) << bench.describe();
  nlohmann::json first = backup({"backup", "primary"});
  const std::string expected_first = checksums(*pg());
  const std::string full = first.value("Backup", "");
  ASSERT_FALSE(full.empty());
  ASSERT_TRUE(first.contains("HotStandby")) << first.dump();
  ASSERT_EQ(first["HotStandby"].size(), 2u) << first.dump();
  for (const nlohmann::json& copy : first["HotStandby"]) {
    EXPECT_TRUE(copy.value("Updated", false)) << copy.dump();
  }
  const uint64_t written_first = first["HotStandby"][0].value("FilesWritten", uint64_t{0});
  const uint64_t bytes_first = first["HotStandby"][0].value("BytesWritten", uint64_t{0});
  EXPECT_GT(written_first, 500u);
  for (const std::string& dir : {a, b}) {
    EXPECT_TRUE(path_exists(dir + "/primary/global/pg_control")) << dir;
    EXPECT_FALSE(path_exists(dir + "/primary.pgmoneta-new")) << dir;
    EXPECT_FALSE(path_exists(dir + "/primary.pgmoneta-old")) << dir;
    EXPECT_FALSE(path_exists(dir + "/primary/standby.signal")) << dir;
  }
  // pgmoneta's default location for the first copy, the mapping for the second.
  EXPECT_EQ(link_target(a + "/primary/pg_tblspc/" + oid), ts_source + "hs");
  EXPECT_EQ(link_target(b + "/primary/pg_tblspc/" + oid), ts_b);
  EXPECT_TRUE(path_exists(ts_b + "/PG_15_202209061"));

  auto [seen_a, name_a] = look_into(a + "/primary");
  EXPECT_EQ(seen_a, expected_first);
  EXPECT_EQ(name_a, "hot_standby_override");
  auto [seen_b, name_b] = look_into(b + "/primary");
  EXPECT_EQ(seen_b, expected_first);
  EXPECT_NE(name_b, "hot_standby_override");

  // 2. More data (the tablespace's table too), an incremental backup: the copies follow,
  // writing only what changed.
  bench = pg()->run_tool("pgbench", {"-n", "-t", "200", "-c", "1"});
  ASSERT_EQ(bench.exit_code, 0) << bench.describe();
  CommandOutput insert = pg()->psql(
      "INSERT INTO ts_table SELECT g, md5(g::text) FROM generate_series(20001, 20500) g");
  ASSERT_EQ(insert.exit_code, 0) << insert.describe();
  nlohmann::json second = backup({"backup", "primary", full});
  const std::string expected_second = checksums(*pg());
  ASSERT_FALSE(second.value("Backup", "").empty());
  ASSERT_EQ(second["HotStandby"].size(), 2u) << second.dump();
  for (const nlohmann::json& copy : second["HotStandby"]) {
    EXPECT_TRUE(copy.value("Updated", false)) << copy.dump();
    EXPECT_GT(copy.value("FilesReused", uint64_t{0}), 0u) << copy.dump();
  }
  const uint64_t written_second = second["HotStandby"][0].value("FilesWritten", uint64_t{0});
  const uint64_t bytes_second = second["HotStandby"][0].value("BytesWritten", uint64_t{0});
  std::cout << "hot standby: first update wrote " << written_first << " file(s), " << bytes_first
            << " bytes; second wrote " << written_second << " file(s), " << bytes_second
            << " bytes, linked " << second["HotStandby"][0].value("FilesReused", uint64_t{0})
            << "\n";
  EXPECT_LT(written_second, written_first);
  EXPECT_LT(bytes_second, bytes_first);
  EXPECT_NE(expected_second, expected_first);
  auto [again_a, again_name] = look_into(a + "/primary");
  EXPECT_EQ(again_a, expected_second);
  EXPECT_EQ(again_name, "hot_standby_override");
  auto [again_b, unused] = look_into(b + "/primary");
  EXPECT_EQ(again_b, expected_second);
  EXPECT_FALSE(path_exists(ts_source + "hs.pgmoneta-new"));
  EXPECT_FALSE(path_exists(ts_source + "hs.pgmoneta-old"));
}

}  // namespace
}  // namespace pgm::testing
