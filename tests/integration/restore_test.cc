// Restore end to end: the real daemon backs up a real PostgreSQL 15 (pgbench data plus a
// table in a tablespace), restores through pgmoneta-cli, and a second PostgreSQL 15 starts on
// the restored directory.
//
//  - every compression with and without AES: restore `current`, start PostgreSQL on the
//    copy, and the table checksums equal the source's at backup end;
//  - point in time: a table created after the backup, its time/LSN/restore point/xid noted,
//    then dropped: restores with time=, lsn=, name= and xid= each bring it back with its rows;
//  - replica mode: standby.signal and a primary_conninfo without a password; the copy
//    streams from the source as a hot standby;
//  - a flipped byte, a truncated file, a deleted file, an extra file: the restore fails
//    naming the file and leaves nothing behind;
//  - a restore into a full file system (a tmpfs the test mounts) fails before writing.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "integration/backup_helpers.h"
#include "integration/harness.h"
#include "integration/restore_fixture.h"
#include "integration/wal_helpers.h"
#include <sys/mount.h>

#include "pgm/backup/info.h"

namespace pgm::testing {
namespace {

// ---- 1. every format restores to the source's data ----

TEST_F(RestoreTest, EveryFormatRestoresToTheSourceChecksums) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  const std::vector<std::pair<std::string, std::string>> formats = {{"none", "none"},
                                                                    {"none", "aes-256-gcm"},
                                                                    {"gzip", "none"},
                                                                    {"gzip", "aes-256-gcm"},
                                                                    {"lz4", "none"},
                                                                    {"lz4", "aes-256-gcm"},
                                                                    {"zstd", "none"},
                                                                    {"zstd", "aes-256-gcm"},
                                                                    {"bzip2", "none"},
                                                                    {"bzip2", "aes-256-gcm"},
                                                                    {"server-zstd", "aes-256-gcm"}};
  std::string parent = restore_parent("restores");
  for (const auto& [compression, encryption] : formats) {
    SCOPED_TRACE("compression " + compression + ", encryption " + encryption);
    ASSERT_NO_FATAL_FAILURE(reload_with([&](IniConfig& c) {
      c.set("pgmoneta", "compression", compression);
      c.set("pgmoneta", "encryption", encryption);
    }));
    // Fresh changes for every format, so each backup holds different data.
    CommandOutput bench = pg()->run_tool("pgbench", {"-n", "-t", "50", "-c", "1"});
    ASSERT_EQ(bench.exit_code, 0) << bench.describe();
    std::string label = take_backup();
    ASSERT_FALSE(label.empty());
    std::string expected = checksums(*pg());  // nothing writes between backup end and here
    ASSERT_NO_FATAL_FAILURE(wait_wal_received());

    CliResult r = cli({"restore", "primary", label, "current", parent}, "raw");
    ASSERT_EQ(r.exit_code(), 0) << r.describe();
    std::string target = parent + "/primary-" + label;
    ASSERT_TRUE(r.json.has_value());
    EXPECT_EQ((*r.json)["Response"].value("Directory", ""), target);
    EXPECT_TRUE(path_exists(target + "/global/pg_control"));
    EXPECT_TRUE(path_exists(target + "/recovery.signal"));
    EXPECT_TRUE(path_exists(target + "-tblspc_ts1"));
    // No stored suffix anywhere in the restored tree: everything decoded.
    for (const auto& e : std::filesystem::recursive_directory_iterator(target)) {
      std::string name = e.path().filename().string();
      for (const char* suffix : {".zstd", ".gz", ".lz4", ".bz2", ".aes", ".partial"}) {
        ASSERT_FALSE(name.ends_with(suffix)) << e.path();
      }
    }
    PostgresInstance* copy = start_copy(target);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(checksums(*copy), expected);
    std::cout << "[   INFO   ] " << compression << "/" << encryption << ": "
              << (*r.json)["Response"].value("RestoredBytes", uint64_t{0}) << " bytes, "
              << (*r.json)["Response"].value("Files", 0) << " files, "
              << (*r.json)["Response"].value("WalFiles", 0) << " WAL files in "
              << (*r.json)["Response"].value("Elapsed", 0.0) << " s\n";
    copies_.back()->stop();
    std::filesystem::remove_all(target);
    std::filesystem::remove_all(target + "-tblspc_ts1");
    CliResult del = cli({"delete", "primary", label}, "raw");
    ASSERT_EQ(del.exit_code(), 0) << del.describe();
  }
}

// ---- 2. point-in-time recovery ----

TEST_F(RestoreTest, PointInTimeByTimeLsnNameAndXidBringsTheDroppedTableBack) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  bool ok = false;
  std::string xid = sql_value(*pg(),
                              "BEGIN; CREATE TABLE pitr AS SELECT g, md5(g::text) AS h FROM "
                              "generate_series(1, 5000) g; SELECT txid_current(); COMMIT;",
                              &ok);
  ASSERT_TRUE(ok) << xid;
  std::string expected =
      sql_value(*pg(), "SELECT count(*) || ':' || sum(hashtext(p::text)) FROM pitr p", &ok);
  ASSERT_TRUE(ok) << expected;
  std::string point = sql_value(*pg(), "SELECT pg_create_restore_point('before_drop')", &ok);
  ASSERT_TRUE(ok) << point;
  std::string lsn = sql_value(*pg(), "SELECT pg_current_wal_lsn()", &ok);
  ASSERT_TRUE(ok) << lsn;
  std::string time = sql_value(*pg(), "SELECT clock_timestamp()::text", &ok);
  ASSERT_TRUE(ok) << time;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_EQ(sql_value(*pg(), "DROP TABLE pitr", &ok), "");
  ASSERT_TRUE(ok);
  std::string error;
  ASSERT_FALSE(switch_wal(*pg(), &error).empty()) << error;
  ASSERT_NO_FATAL_FAILURE(wait_wal_received());

  std::string parent = restore_parent("pitr");
  for (const std::string& target :
       {"time=" + time, "lsn=" + lsn, std::string("name=before_drop"), "xid=" + xid}) {
    SCOPED_TRACE(target);
    std::string sub = parent + "/" + std::to_string(copies_.size());
    std::filesystem::create_directories(sub);
    chown_to_test_user(sub);
    CliResult r = cli({"restore", "primary", "newest", target + ",action=promote", sub}, "raw");
    ASSERT_EQ(r.exit_code(), 0) << r.describe();
    std::string dir = sub + "/primary-" + label;
    std::string auto_conf = read_text(dir + "/postgresql.auto.conf");
    EXPECT_NE(auto_conf.find("recovery_target_"), std::string::npos) << auto_conf;
    PostgresInstance* copy = start_copy(dir);
    ASSERT_NE(copy, nullptr);
    // Promotion ends recovery at the target; wait until the copy accepts writes.
    std::string in_recovery;
    for (int i = 0; i < 100; ++i) {
      in_recovery = sql_value(*copy, "SELECT pg_is_in_recovery()", &ok);
      if (in_recovery == "f") {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_EQ(in_recovery, "f") << tail(copy->log());
    EXPECT_EQ(sql_value(*copy, "SELECT count(*) || ':' || sum(hashtext(p::text)) FROM pitr p", &ok),
              expected)
        << tail(copy->log());
    copy->stop();
  }
}

// ---- 3. replica mode ----

TEST_F(RestoreTest, ReplicaModeStreamsFromTheSourceWithoutAStoredPassword) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  std::string parent = restore_parent("replica");
  CliResult r = cli({"restore", "primary", label, "replica", parent}, "raw");
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  std::string dir = parent + "/primary-" + label;
  EXPECT_TRUE(path_exists(dir + "/standby.signal"));
  EXPECT_FALSE(path_exists(dir + "/recovery.signal"));
  std::string auto_conf = read_text(dir + "/postgresql.auto.conf");
  EXPECT_NE(auto_conf.find("primary_conninfo"), std::string::npos) << auto_conf;
  EXPECT_EQ(auto_conf.find("password"), std::string::npos) << auto_conf;
  EXPECT_EQ(auto_conf.find(PostgresInstance::kReplPassword), std::string::npos) << auto_conf;
  PostgresInstance* copy = start_copy(dir);
  ASSERT_NE(copy, nullptr);
  bool ok = false;
  EXPECT_EQ(sql_value(*copy, "SELECT pg_is_in_recovery()", &ok), "t");
  // A row written on the source after the restore reaches the standby.
  ASSERT_EQ(sql_value(*pg(), "CREATE TABLE after_restore AS SELECT 42 AS v", &ok), "");
  std::string v;
  for (int i = 0; i < 150 && v != "42"; ++i) {
    v = sql_value(*copy, "SELECT v FROM after_restore", &ok);
    if (v != "42") {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  EXPECT_EQ(v, "42") << tail(copy->log());
  sql_value(*pg(), "DROP TABLE after_restore", &ok);
}

// ---- 4. damaged backups ----

TEST_F(RestoreTest, DamagedBackupFailsNamingTheFileAndLeavesNothingBehind) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  std::string backup_dir = daemon_backup_root(daemon()) + "/" + label;
  std::string parent = restore_parent("damaged");
  expect_log_errors({"restore of backup " + label});
  // The three biggest unshared stored relation files, and an extra file.
  std::vector<std::pair<uint64_t, std::string>> files = unshared_files(backup_dir + "/data");
  std::vector<std::string> victims;
  for (const auto& [size, rel] : files) {
    if (rel.rfind("base/", 0) == 0 && size > 1000 && victims.size() < 3) {
      victims.push_back(rel);
    }
  }
  ASSERT_EQ(victims.size(), 3u);
  struct Damage {
    std::string name;
    std::string file;  // data-relative stored name the error must mention (without suffix)
    std::function<void()> apply;
    std::function<void()> undo;
  };
  std::string saved;
  auto save = [&](const std::string& rel) { saved = read_text(backup_dir + "/data/" + rel); };
  auto put_back = [&](const std::string& rel) {
    std::ofstream(backup_dir + "/data/" + rel, std::ios::binary | std::ios::trunc) << saved;
  };
  auto strip = [](const std::string& rel) { return rel.substr(0, rel.find('.')); };
  std::vector<Damage> damages = {
      {"flipped byte", strip(victims[0]),
       [&] {
         save(victims[0]);
         std::fstream f(backup_dir + "/data/" + victims[0],
                        std::ios::in | std::ios::out | std::ios::binary);
         f.seekp(static_cast<std::streamoff>(saved.size() / 2));
         f.put(static_cast<char>(saved[saved.size() / 2] ^ 0x5a));
       },
       [&] { put_back(victims[0]); }},
      {"truncated", strip(victims[1]),
       [&] {
         save(victims[1]);
         std::filesystem::resize_file(backup_dir + "/data/" + victims[1], saved.size() / 2);
       },
       [&] { put_back(victims[1]); }},
      {"deleted", strip(victims[2]),
       [&] {
         save(victims[2]);
         std::filesystem::remove(backup_dir + "/data/" + victims[2]);
       },
       [&] { put_back(victims[2]); }},
      {"extra", "base/extra_file",
       [&] { std::ofstream(backup_dir + "/data/base/extra_file") << "not part of the backup"; },
       [&] { std::filesystem::remove(backup_dir + "/data/base/extra_file"); }},
  };
  for (const Damage& d : damages) {
    SCOPED_TRACE(d.name);
    d.apply();
    CliResult r = cli({"restore", "primary", label, "current", parent});
    EXPECT_NE(r.exit_code(), 0) << r.describe();
    EXPECT_NE((r.out() + r.err()).find(d.file), std::string::npos) << r.describe();
    EXPECT_TRUE(list_dir(parent).empty()) << "left behind: " << list_dir(parent).size();
    d.undo();
  }
  // Repaired, the same backup restores.
  CliResult r = cli({"restore", "primary", label, parent}, "raw");
  EXPECT_EQ(r.exit_code(), 0) << r.describe();
}

// ---- 5. a full file system ----

TEST_F(RestoreTest, FullFileSystemFailsBeforeWritingWithAClearMessage) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "mounting a tmpfs needs root";
  }
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  std::string mount_point = restore_parent("small");
  expect_log_errors({"not enough free space"});
  std::string options = "size=8m,mode=0700,uid=" + std::to_string(run_as().uid) +
                        ",gid=" + std::to_string(run_as().gid);
  ASSERT_EQ(::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, options.c_str()), 0)
      << "mount tmpfs: " << std::strerror(errno);
  CliResult r = cli({"restore", "primary", label, "current", mount_point}, "raw");
  EXPECT_NE(r.exit_code(), 0) << r.describe();
  ASSERT_TRUE(r.json.has_value()) << r.describe();
  EXPECT_EQ((*r.json)["Outcome"].value("Error", 0), 601) << r.describe();
  EXPECT_NE(r.describe().find("not enough free space"), std::string::npos) << r.describe();
  EXPECT_TRUE(list_dir(mount_point).empty());
  ::umount2(mount_point.c_str(), MNT_DETACH);
}

}  // namespace
}  // namespace pgm::testing
