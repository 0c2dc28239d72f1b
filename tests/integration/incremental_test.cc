// Incremental backups end to end on the real daemon and PostgreSQL 15 (block delta: the
// server sends every file, only changed 8 KB blocks are stored, as INCREMENTAL files):
//   full -> 2 % of pgbench rows updated -> incremental -> new table, TRUNCATE, a truncating
//   VACUUM, more updates, SET TABLESPACE, VACUUM FULL, hash and GIN indexes, an unlogged
//   table, DROP DATABASE and CREATE DATABASE with both strategies, tables created while it
//   runs -> incremental of the incremental; the newest restores through
//   pgmoneta-cli and PostgreSQL starts on it with the source's exact data (table checksums,
//   amcheck); the first incremental stores at most 20 % of the full backup's bytes;
//   a backup has at most one child (105); a damaged INCREMENTAL
//   file fails the restore naming it. Rollups on delete, interrupted at every step and
//   killed in the daemon. A relation over 1 GB: incremental_big_test.cc.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "integration/backup_helpers.h"
#include "integration/harness.h"
#include "integration/incremental_fixture.h"
#include "integration/restore_fixture.h"
#include "integration/wal_helpers.h"

#include "pgm/backup/repository.h"
#include "pgm/restore/restore.h"
#include "pgm/restore/rollup.h"

namespace pgm::testing {
namespace {

constexpr const char* kExtraChecksumSql =
    "SELECT concat_ws(' ', (SELECT count(*) || ':' || sum(hashtext(n::text)) FROM inc_new n), "
    "(SELECT count(*) FROM pgbench_history), "
    "(SELECT count(*) || ':' || sum(hashtext(g::text)) FROM inc_gin g), "
    "(SELECT count(*) FROM inc_gin WHERE tags @> ARRAY['t7']), "
    "(SELECT count(*) FROM inc_new WHERE v = md5('77')), "
    "(SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database), "
    "(SELECT count(*) FROM pg_class WHERE relname LIKE 'during\\_%'), "
    "(SELECT sum(pg_relation_size(oid)) FROM pg_class WHERE relname LIKE 'during\\_%'))";
// A table in each database created around the backups.
constexpr const char* kDbChecksumSql =
    "SELECT count(*) || ':' || sum(hashtext(t::text)) FROM dbt t";

TEST_F(IncrementalTest, ChainOfTwoRestoresExactlyAndIsSmall) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  ASSERT_NO_FATAL_FAILURE(sql("CREATE EXTENSION IF NOT EXISTS amcheck"));
  // Databases that the chain drops and recreates, and one that stays.
  ASSERT_NO_FATAL_FAILURE(sql("CREATE DATABASE inc_dropped"));
  ASSERT_NO_FATAL_FAILURE(sql("CREATE DATABASE inc_kept STRATEGY wal_log"));
  for (const char* db : {"inc_dropped", "inc_kept"}) {
    CommandOutput made =
        pg()->psql("CREATE TABLE dbt AS SELECT g, md5(g::text) FROM generate_series(1, 5000) g",
                   "postgres", db);
    ASSERT_EQ(made.exit_code, 0) << made.describe();
  }
  CommandOutput bench = pg()->run_tool("pgbench", {"-n", "-t", "200", "-c", "1"});
  ASSERT_EQ(bench.exit_code, 0) << bench.describe();

  const std::string full = take_backup();
  ASSERT_FALSE(full.empty());

  // 2 % of the rows (scale 1: 100 000 accounts).
  ASSERT_NO_FATAL_FAILURE(
      sql("UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid <= 2000"));
  const std::string first = take_incremental(full);
  ASSERT_FALSE(first.empty());
  nlohmann::json full_info = info_of(full);
  nlohmann::json first_info = info_of(first);
  EXPECT_EQ(full_info.value("Incremental", true), false);
  EXPECT_EQ(first_info.value("Incremental", false), true);
  EXPECT_EQ(first_info.value("IncrementalParent", ""), full);
  const auto full_bytes = full_info.value("BackupSize", uint64_t{0});
  const auto first_bytes = first_info.value("BackupSize", uint64_t{0});
  EXPECT_GT(full_bytes, 0u);
  EXPECT_LE(first_bytes * 5, full_bytes)
      << "the first incremental stores more than 20 % of the full backup";
  // RestoreSize is the whole reconstructed size (the cluster grew a little by the updates).
  const auto full_restore = full_info.value("RestoreSize", uint64_t{0});
  const auto first_restore = first_info.value("RestoreSize", uint64_t{0});
  EXPECT_GE(first_restore, full_restore);
  EXPECT_LE(first_restore, full_restore + full_restore / 10);
  const auto first_incrementals = incremental_files(first);
  EXPECT_GT(first_incrementals.size(), 10u);
  std::map<std::string, std::string> info_file =
      read_info_file(daemon_backup_root(daemon()) + "/" + first);
  EXPECT_EQ(info_file["TYPE"], "1");
  EXPECT_EQ(info_file["PARENT"], full);
  const std::string label_text =
      read_text(daemon_backup_root(daemon()) + "/" + first + "/data/backup_label");
  EXPECT_NE(label_text.find("INCREMENTAL FROM LSN: "), std::string::npos) << label_text;
  EXPECT_NE(label_text.find("INCREMENTAL FROM TLI: 1"), std::string::npos) << label_text;

  // A backup has at most one child.
  CliResult branch = cli({"backup", "primary", full}, "raw");
  EXPECT_NE(branch.exit_code(), 0) << branch.describe();
  EXPECT_NE(branch.describe().find("105"), std::string::npos) << branch.describe();

  // Structure changes: a new table, TRUNCATE, a truncating VACUUM, more updates.
  ASSERT_NO_FATAL_FAILURE(
      sql("CREATE TABLE inc_new AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, "
          "20000) g"));
  ASSERT_NO_FATAL_FAILURE(sql("TRUNCATE pgbench_history"));
  ASSERT_NO_FATAL_FAILURE(sql("DELETE FROM pgbench_accounts WHERE aid > 90000"));
  ASSERT_NO_FATAL_FAILURE(sql("VACUUM pgbench_accounts"));
  ASSERT_NO_FATAL_FAILURE(
      sql("UPDATE pgbench_accounts SET abalance = abalance - 3 WHERE aid BETWEEN 40000 AND 41000"));
  // Files that move or are rewritten: SET TABLESPACE, VACUUM FULL; hash and GIN indexes; an
  // unlogged table (restored empty, from its init fork); DROP/CREATE DATABASE both ways.
  ASSERT_NO_FATAL_FAILURE(sql("ALTER TABLE inc_new SET TABLESPACE ts1"));
  ASSERT_NO_FATAL_FAILURE(sql("VACUUM FULL pgbench_tellers"));
  ASSERT_NO_FATAL_FAILURE(sql("CREATE INDEX inc_new_hash ON inc_new USING hash (v)"));
  ASSERT_NO_FATAL_FAILURE(
      sql("CREATE TABLE inc_gin AS SELECT g AS id, ARRAY['t' || (g % 10), 'u' || (g % 7)] AS tags "
          "FROM generate_series(1, 10000) g"));
  ASSERT_NO_FATAL_FAILURE(sql("CREATE INDEX inc_gin_tags ON inc_gin USING gin (tags)"));
  ASSERT_NO_FATAL_FAILURE(
      sql("CREATE UNLOGGED TABLE inc_unlogged AS SELECT g FROM generate_series(1, 1000) g"));
  ASSERT_NO_FATAL_FAILURE(sql("DROP DATABASE inc_dropped"));
  ASSERT_NO_FATAL_FAILURE(sql("CREATE DATABASE inc_copied STRATEGY file_copy TEMPLATE inc_kept"));
  ASSERT_NO_FATAL_FAILURE(sql("CREATE DATABASE inc_logged STRATEGY wal_log TEMPLATE inc_kept"));
  {
    CommandOutput more =
        pg()->psql("INSERT INTO dbt SELECT g, md5(g::text) FROM generate_series(5001, 6000) g",
                   "postgres", "inc_kept");
    ASSERT_EQ(more.exit_code, 0) << more.describe();
  }
  // Relations created while the second incremental runs, each in its own transaction.
  std::vector<std::string> creates;
  for (int i = 1; i <= 30; ++i) {
    creates.push_back("-c");
    creates.push_back("CREATE TABLE during_" + std::to_string(i) +
                      " AS SELECT g FROM generate_series(1, 2000) g");
    creates.push_back("-c");
    creates.push_back("SELECT pg_sleep(0.05)");
  }
  Process creator = pg()->spawn_tool("psql", creates);
  const std::string second = take_incremental(first);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(info_of(second).value("IncrementalParent", ""), first);
  ASSERT_EQ(creator.wait_for(std::chrono::seconds(60)), std::optional<int>(0));

  auto database_sums = [](const PostgresInstance& instance) {
    std::string sums;
    for (const char* db : {"inc_kept", "inc_copied", "inc_logged"}) {
      CommandOutput out = instance.psql(kDbChecksumSql, "postgres", db);
      sums += std::string(db) + "=" + (out.exit_code == 0 ? out.out : out.describe()) + " ";
    }
    return sums;
  };
  const std::string expected = checksums(*pg()) + " " + sql_value(*pg(), kExtraChecksumSql);
  const std::string expected_databases = database_sums(*pg());
  ASSERT_NO_FATAL_FAILURE(wait_wal_received());

  const std::string parent = restore_parent("restores");
  CliResult r = cli({"restore", "primary", second, "current", parent}, "raw");
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  const std::string target = parent + "/primary-" + second;
  for (const auto& e : std::filesystem::recursive_directory_iterator(target)) {
    ASSERT_EQ(e.path().filename().string().rfind("INCREMENTAL.", 0), std::string::npos) << e.path();
  }
  EXPECT_EQ(read_text(target + "/backup_label").find("INCREMENTAL"), std::string::npos);
  PostgresInstance* copy = start_copy(target);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(checksums(*copy) + " " + sql_value(*copy, kExtraChecksumSql), expected);
  EXPECT_EQ(database_sums(*copy), expected_databases);
  // An unlogged table comes back empty (from its init fork), as after any crash.
  EXPECT_EQ(sql_value(*copy, "SELECT count(*) FROM inc_unlogged"), "0");
  bool ok = false;
  std::string amcheck = sql_value(*copy, kAmcheckAllBtreesSql, &ok);
  EXPECT_TRUE(ok) << amcheck;
  std::cout << "[   INFO   ] full " << full_bytes << " bytes, first incremental " << first_bytes
            << " bytes (" << first_incrementals.size() << " INCREMENTAL files), amcheck on "
            << amcheck << " indexes\n";
  copies_.back()->stop();
  std::filesystem::remove_all(target);
  std::filesystem::remove_all(target + "-tblspc_ts1");

  // A damaged INCREMENTAL file: the restore fails and names it.
  const auto damaged_list = incremental_files(second);
  std::string victim;
  uint64_t victim_size = 0;
  const std::string data = daemon_backup_root(daemon()) + "/" + second + "/data/";
  for (const std::string& f : damaged_list) {
    const auto size = std::filesystem::file_size(data + f);
    if (size > victim_size) {
      victim = f;
      victim_size = size;
    }
  }
  ASSERT_FALSE(victim.empty());
  {
    std::fstream f(data + victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(victim_size / 2));
    const char c = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(victim_size / 2));
    f.put(static_cast<char>(c ^ 0x5a));
  }
  expect_log_errors({"restore of backup " + second});
  CliResult bad = cli({"restore", "primary", second, "current", parent});
  EXPECT_NE(bad.exit_code(), 0) << bad.describe();
  const std::string named = victim.substr(0, victim.find(".zstd"));
  EXPECT_NE((bad.out() + bad.err()).find(named), std::string::npos) << bad.describe();
  EXPECT_TRUE(list_dir(parent).empty()) << "left behind: " << list_dir(parent).size();
}

}  // namespace
}  // namespace pgm::testing

namespace pgm::testing {
namespace {

// Deleting parents rolls them into their children: the middle of a chain (the child absorbs
// its blocks and becomes incremental from the grandparent), then the root (the child becomes
// full); the newest still restores to the source's data.
TEST_F(IncrementalTest, DeletingParentsRollsTheChainUpAndTheNewestStillRestores) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  const std::string full = take_backup();
  ASSERT_FALSE(full.empty());
  ASSERT_NO_FATAL_FAILURE(
      sql("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= 3000"));
  const std::string first = take_incremental(full);
  ASSERT_NO_FATAL_FAILURE(
      sql("UPDATE pgbench_accounts SET abalance = abalance + 2 WHERE aid BETWEEN 2000 AND 6000"));
  ASSERT_NO_FATAL_FAILURE(sql("CREATE TABLE rolled AS SELECT g FROM generate_series(1, 3000) g"));
  const std::string second = take_incremental(first);
  ASSERT_NO_FATAL_FAILURE(
      sql("UPDATE pgbench_accounts SET abalance = abalance + 3 WHERE aid BETWEEN 5000 AND 9000"));
  ASSERT_NO_FATAL_FAILURE(sql("DELETE FROM rolled WHERE g > 1000"));
  ASSERT_NO_FATAL_FAILURE(sql("VACUUM rolled"));
  const std::string third = take_incremental(second);
  ASSERT_FALSE(first.empty() || second.empty() || third.empty());
  const std::string expected =
      checksums(*pg()) + " " + sql_value(*pg(), "SELECT count(*) FROM rolled");
  ASSERT_NO_FATAL_FAILURE(wait_wal_received());

  // verify rebuilds the newest from its chain; a damaged block in the root shows there,
  // although the newest's own files are sound.
  const std::string verify_dir = restore_parent("verify-chain");
  CliResult sound = cli({"verify", "primary", third, verify_dir}, "raw");
  EXPECT_EQ(sound.exit_code(), 0) << sound.describe();
  {
    const std::string data = daemon_backup_root(daemon()) + "/" + full + "/data/";
    std::string victim;
    for (const auto& e : std::filesystem::recursive_directory_iterator(data + "base")) {
      // pgbench_accounts' heap: the rebuilds of every incremental read it.
      if (e.is_regular_file() &&
          e.file_size() >
              std::filesystem::file_size(data + (victim.empty() ? "backup_label" : victim))) {
        victim = std::filesystem::relative(e.path(), data).string();
      }
    }
    ASSERT_FALSE(victim.empty());
    const std::string saved = read_text(data + victim);
    {
      std::fstream f(data + victim, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(saved.size() / 2));
      f.put(static_cast<char>(saved[saved.size() / 2] ^ 0x5a));
    }
    CliResult damaged = cli({"verify", "primary", third, verify_dir}, "raw");
    EXPECT_NE(damaged.exit_code(), 0) << damaged.describe();
    const std::string named = victim.substr(0, victim.find(".zstd"));
    EXPECT_NE(damaged.describe().find(named), std::string::npos) << damaged.describe();
    std::ofstream(data + victim, std::ios::binary | std::ios::trunc) << saved;
  }

  // retain/expunge --cascade walk the chain from a backup to its root, and only that way.
  CliResult kept = cli({"retain", "--cascade", "primary", second}, "raw");
  ASSERT_EQ(kept.exit_code(), 0) << kept.describe();
  for (const std::string& label : {full, first, second}) {
    EXPECT_EQ(info_of(label).value("Keep", false), true) << label;
  }
  EXPECT_EQ(info_of(third).value("Keep", true), false);
  CliResult expunged = cli({"expunge", "--cascade", "primary", second}, "raw");
  ASSERT_EQ(expunged.exit_code(), 0) << expunged.describe();
  for (const std::string& label : {full, first, second}) {
    EXPECT_EQ(info_of(label).value("Keep", true), false) << label;
  }

  // The middle: second absorbs first and is now incremental from full.
  CliResult del = cli({"delete", "primary", first}, "raw");
  ASSERT_EQ(del.exit_code(), 0) << del.describe();
  EXPECT_FALSE(path_exists(daemon_backup_root(daemon()) + "/" + first));
  EXPECT_EQ(info_of(second).value("IncrementalParent", ""), full);
  EXPECT_EQ(info_of(second).value("Incremental", false), true);
  // The root: second becomes a full backup.
  del = cli({"delete", "primary", full}, "raw");
  ASSERT_EQ(del.exit_code(), 0) << del.describe();
  EXPECT_EQ(info_of(second).value("Incremental", true), false);
  EXPECT_EQ(info_of(second).value("IncrementalParent", "x"), "");
  EXPECT_TRUE(incremental_files(second).empty());
  EXPECT_EQ(info_of(third).value("IncrementalParent", ""), second);
  // Nothing of the rollups is left beside the backups, and each rewritten backup still
  // passes sha512sum -c.
  for (const std::string& name : list_dir(daemon_backup_root(daemon()))) {
    EXPECT_EQ(name.rfind(".rollup", 0), std::string::npos) << name;
  }
  EXPECT_FALSE(path_exists(daemon_backup_root(daemon()) + "/" + second + "/ROLLUP"));
  CommandOutput sums = run_in(daemon_backup_root(daemon()) + "/" + second,
                              {"/usr/bin/sha512sum", "--quiet", "-c", "backup.sha512"});
  EXPECT_EQ(sums.exit_code, 0) << sums.describe();
  CliResult verify = cli({"verify", "primary", second, restore_parent("verify")}, "raw");
  EXPECT_EQ(verify.exit_code(), 0) << verify.describe();

  const std::string parent = restore_parent("restores");
  CliResult r = cli({"restore", "primary", third, "current", parent}, "raw");
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  PostgresInstance* copy = start_copy(parent + "/primary-" + third);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(checksums(*copy) + " " + sql_value(*copy, "SELECT count(*) FROM rolled"), expected);
}

}  // namespace
}  // namespace pgm::testing

namespace pgm::testing {
namespace {

// A rollup stopped after each of its steps, as a kill -9 would stop it, then completed by
// complete_rollups() as the daemon does before its next backup or delete: the newest backup
// restores exactly (run_restore checks every rebuilt file against PostgreSQL's manifest).
// Also a copy interrupted while it was built, or complete but not yet marked: undone, the old
// chain restores. Each case works on its own copy of the repository.
TEST_F(IncrementalTest, RollupInterruptedAtEveryStepStillRestores) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  const std::string full = take_backup();
  ASSERT_NO_FATAL_FAILURE(
      sql("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= 3000"));
  const std::string first = take_incremental(full);
  ASSERT_NO_FATAL_FAILURE(
      sql("UPDATE pgbench_accounts SET abalance = abalance + 2 WHERE aid BETWEEN 2000 AND 6000"));
  const std::string second = take_incremental(first);
  ASSERT_FALSE(full.empty() || first.empty() || second.empty());
  const std::string repository = daemon_backup_root(daemon());
  const std::string scratch = restore_parent("rollup-crash");

  struct Case {
    std::string name;
    std::string parent;  // the backup rolled up
    // 0 building (a first new file stored), 1 marked, 2 swapped, 3 parent deleted.
    int stop_after;
    bool unmark = false;  // then the mark removed: crashed between the copy's sync and its mark
  };
  const std::vector<Case> cases = {
      {"middle-building", first, 0}, {"middle-unmarked", first, 1, true},
      {"middle-marked", first, 1},   {"middle-swapped", first, 2},
      {"middle-deleted", first, 3},  {"root-building", full, 0},
      {"root-marked", full, 1},      {"root-swapped", full, 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string root = scratch + "/" + c.name;
    CommandOutput copied = run_in(scratch, {"/bin/cp", "-a", repository, root});
    ASSERT_EQ(copied.exit_code, 0) << copied.describe();
    const std::string child = c.parent == full ? first : second;
    restore::RollupOptions o;
    o.root = root;
    o.parent = c.parent;
    o.child = child;
    o.level = 3;
    o.after_step = [&](int step) { return step < c.stop_after; };
    auto rolled = restore::roll_up(o);
    ASSERT_TRUE(rolled) << rolled.error().message();
    // Before the mark: the copy exists without it.
    if (c.unmark) {
      ASSERT_EQ(::unlink((root + "/.rollup-" + child + "/ROLLUP").c_str()), 0);
    }
    if (c.stop_after == 0 || c.unmark) {
      ASSERT_TRUE(path_exists(root + "/.rollup-" + child));
      ASSERT_FALSE(path_exists(root + "/.rollup-" + child + "/ROLLUP"));
    }
    auto completed = restore::complete_rollups(root);
    ASSERT_TRUE(completed) << completed.error().message();
    EXPECT_EQ(*completed, 1u);
    for (const std::string& name : list_dir(root)) {
      EXPECT_EQ(name.rfind(".rollup", 0), std::string::npos) << name;
    }
    // Undone: the parent is still there and still the child's parent; finished: it is gone.
    const bool undone = c.stop_after == 0 || c.unmark;
    EXPECT_EQ(path_exists(root + "/" + c.parent), undone);
    auto child_info = backup::read_backup_info(root + "/" + child);
    ASSERT_TRUE(child_info) << child_info.error().message();
    EXPECT_EQ(child_info->parent == c.parent, undone);

    auto newest = backup::read_backup_info(root + "/" + second);
    ASSERT_TRUE(newest);
    restore::RestoreOptions ro;
    ro.backup_dir = root + "/" + second;
    ro.info = *newest;
    ro.target_dir = scratch + "/restored-" + c.name;
    ro.workers = 2;
    auto restored = restore::run_restore(ro);
    EXPECT_TRUE(restored) << restored.error().message();
    std::filesystem::remove_all(ro.target_dir);
    std::filesystem::remove_all(root);
  }
}

}  // namespace
}  // namespace pgm::testing

namespace pgm::testing {
namespace {

// The real daemon's delete child killed with SIGKILL while the new copy is being built and
// right after each step of a rollup (the fault point PGMONETA_FAULT_KILL_ROLLUP_AFTER): the
// newest backup restores at once, as it is, and the next delete undoes the unfinished copy
// or completes the rollup, after which it still restores.
TEST_F(IncrementalTest, KilledRollupLeavesARestorableChainAndIsFinishedLater) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::vector<std::string> chain{take_backup()};
  for (int i = 0; i < 5; ++i) {
    ASSERT_NO_FATAL_FAILURE(
        sql("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN " +
            std::to_string(1 + i * 2000) + " AND " + std::to_string(3000 + i * 2000)));
    chain.push_back(take_incremental(chain.back()));
    ASSERT_FALSE(chain.back().empty());
  }
  const std::string newest = chain.back();
  const std::string expected = checksums(*pg());
  ASSERT_NO_FATAL_FAILURE(wait_wal_received());
  expect_log_errors({"was killed by signal 9", "no backup 20000101000000"});
  const std::string parent = restore_parent("killed");
  auto restores = [&](const std::string& why) {
    SCOPED_TRACE(why);
    CliResult r = cli({"restore", "primary", newest, "current", parent}, "raw");
    ASSERT_EQ(r.exit_code(), 0) << r.describe();
    const std::string target = parent + "/primary-" + newest;
    PostgresInstance* copy = start_copy(target);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(checksums(*copy), expected);
    copies_.back()->stop();
    std::filesystem::remove_all(target);
    std::filesystem::remove_all(target + "-tblspc_ts1");
  };
  auto restart = [&](const std::string& kill_after) {
    daemon().stop();
    daemon().env().clear();
    if (!kill_after.empty()) {
      daemon().env()["PGMONETA_FAULT_KILL_ROLLUP_AFTER"] = kill_after;
    }
    ASSERT_EQ(daemon().start(), "");
  };
  struct Step {
    std::string removed;  // the parent deleted
    std::string child;    // the backup it is rolled into
    int kill_after;
  };
  // The middle three times (building, unmarked; marked; swapped), then the root (parent
  // deleted, old copy not yet gone).
  const std::vector<Step> steps = {{chain[1], chain[2], 0},
                                   {chain[2], chain[3], 1},
                                   {chain[3], chain[4], 2},
                                   {chain[0], chain[4], 3}};
  const std::string root = daemon_backup_root(daemon());
  for (const Step& step : steps) {
    SCOPED_TRACE("killed after step " + std::to_string(step.kill_after));
    ASSERT_NO_FATAL_FAILURE(restart(std::to_string(step.kill_after)));
    CliResult killed = cli({"delete", "primary", step.removed}, "raw");
    EXPECT_NE(killed.exit_code(), 0) << killed.describe();
    if (step.kill_after == 0) {
      // Killed while building: the copy is there, unmarked, and list-backup ignores it.
      EXPECT_TRUE(path_exists(root + "/.rollup-" + step.child));
      EXPECT_FALSE(path_exists(root + "/.rollup-" + step.child + "/ROLLUP"));
      CliResult listed = cli({"list-backup", "primary"}, "raw");
      ASSERT_EQ(listed.exit_code(), 0) << listed.describe();
      EXPECT_EQ(listed.out().find(".rollup"), std::string::npos) << listed.out();
      for (const std::string& label : chain) {
        EXPECT_NE(listed.out().find(label), std::string::npos) << label;
      }
    }
    ASSERT_NO_FATAL_FAILURE(restores("right after the kill"));
    ASSERT_NO_FATAL_FAILURE(restart(""));
    if (step.kill_after == 0) {
      // Undone, so the parent is still the child's; deleting it again rolls it up whole.
      CliResult again = cli({"delete", "primary", step.removed}, "raw");
      ASSERT_EQ(again.exit_code(), 0) << again.describe();
      EXPECT_NE(daemon().log().find("rollup into " + step.child +
                                    " was interrupted before its new copy was complete: undone"),
                std::string::npos);
      EXPECT_EQ(info_of(step.child).value("IncrementalParent", ""), chain[0]);
    } else {
      // Any delete first completes what the killed one left.
      cli({"delete", "primary", "20000101000000"}, "raw");
    }
    EXPECT_FALSE(path_exists(root + "/" + step.removed));
    for (const std::string& name : list_dir(root)) {
      EXPECT_EQ(name.rfind(".rollup", 0), std::string::npos) << name;
    }
    EXPECT_FALSE(path_exists(root + "/" + step.child + "/ROLLUP"));
  }
  EXPECT_EQ(info_of(chain[4]).value("Incremental", true), false);  // the root was rolled into it
  EXPECT_EQ(info_of(newest).value("IncrementalParent", ""), chain[4]);
  ASSERT_NO_FATAL_FAILURE(restores("after the rollups were completed"));
}

// The other ways out of an incremental: a restore to an LSN between two backups, a proven
// restore (verify --start) and an archive, each from the chain.
TEST_F(IncrementalTest, APositionedRestoreAProofAndAnArchiveWorkOnAnIncremental) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  const std::string full = take_backup();
  ASSERT_FALSE(full.empty());
  ASSERT_NO_FATAL_FAILURE(
      sql("UPDATE pgbench_accounts SET abalance = abalance + 3 WHERE aid % 40 = 0"));
  const std::string inc = take_incremental(full);
  ASSERT_FALSE(inc.empty());

  bool ok = false;
  const std::string query =
      "SELECT concat_ws(' ', (SELECT count(*) || ':' || sum(hashtext(a::text)) FROM "
      "pgbench_accounts a), (SELECT string_agg(v, ',' ORDER BY v) FROM pitr_mark))";
  ASSERT_NO_FATAL_FAILURE(
      sql("CREATE TABLE pitr_mark (v text); "
          "INSERT INTO pitr_mark VALUES ('before')"));
  const std::string expected = sql_value(*pg(), query, &ok);
  ASSERT_TRUE(ok) << expected;
  const std::string lsn = sql_value(*pg(), "SELECT pg_current_wal_lsn()", &ok);
  ASSERT_TRUE(ok) << lsn;
  ASSERT_NO_FATAL_FAILURE(
      sql("INSERT INTO pitr_mark VALUES ('after'); "
          "UPDATE pgbench_accounts SET abalance = 0 WHERE aid < 1000"));
  std::string error;
  ASSERT_FALSE(switch_wal(*pg(), &error).empty()) << error;
  ASSERT_NO_FATAL_FAILURE(wait_wal_received());

  // To the LSN: the incremental's chain, then WAL up to the mark.
  const std::string pitr = restore_parent("pitr");
  CliResult r = cli({"restore", "primary", inc, "lsn=" + lsn + ",action=promote", pitr}, "raw");
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  PostgresInstance* copy = start_copy(pitr + "/primary-" + inc);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(sql_value(*copy, query, &ok), expected) << tail(copy->log());
  copies_.back()->stop();

  // Proven: rebuilt from the chain in the workspace, started, checked, removed.
  CliResult proof = cli({"verify", "primary", inc, restore_parent("proof"), "--start"}, "json");
  EXPECT_EQ(proof.exit_code(), 0) << proof.describe();

  // An archive holds the rebuilt files: no INCREMENTAL entry, a backup_label PostgreSQL takes.
  const std::string archives = restore_parent("archive");
  CliResult a = cli({"archive", "primary", inc, "current", archives}, "raw");
  ASSERT_EQ(a.exit_code(), 0) << a.describe();
  ASSERT_TRUE(a.json.has_value()) << a.describe();
  const std::string file = (*a.json)["Response"].value("FileName", "");
  ASSERT_TRUE(path_exists(file)) << a.describe();
  auto tar = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/tar"};
    if (file.ends_with(".zstd")) {
      argv.push_back("--zstd");
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return run_in(archives, argv);
  };
  CommandOutput listing = tar({"-tf", file});
  ASSERT_EQ(listing.exit_code, 0) << listing.describe();
  EXPECT_EQ(listing.out.find("INCREMENTAL."), std::string::npos) << listing.out.substr(0, 2000);
  EXPECT_NE(listing.out.find("base/"), std::string::npos) << listing.out.substr(0, 2000);
  std::string label_entry;
  std::istringstream entries(listing.out);
  for (std::string line; std::getline(entries, line);) {
    if (line == "backup_label" || line.ends_with("/backup_label")) {
      label_entry = line;
    }
  }
  ASSERT_FALSE(label_entry.empty()) << listing.out.substr(0, 2000);
  CommandOutput label = tar({"-xOf", file, label_entry});
  ASSERT_EQ(label.exit_code, 0) << label.describe();
  EXPECT_NE(label.out.find("START WAL LOCATION"), std::string::npos) << label.out;
  EXPECT_EQ(label.out.find("INCREMENTAL FROM"), std::string::npos) << label.out;
}

}  // namespace
}  // namespace pgm::testing
