// verify end to end: the real daemon backs up a real PostgreSQL 15 (pgbench scale 1, client
// zstd, with and without AES) and `pgmoneta-cli verify` checks it:
//
//  - a clean backup verifies (exit 0, All lists every file, Failed is empty);
//  - a flipped byte in a compressed relation file, a truncated file, a deleted file and an
//    extra file each make verify exit non-zero with the file named in Failed (-F json); the
//    damage is undone between the cases, so one backup serves them all;
//  - an encrypted backup verifies, and a flipped byte in an encrypted file is named;
//  - the periodic job (verification = 2s after a reload) logs the damaged file at ERROR.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "integration/backup_helpers.h"
#include "integration/cluster_fixture.h"
#include "integration/harness.h"
#include "integration/wal_helpers.h"

namespace pgm::testing {
namespace {

using std::chrono::seconds;
namespace fs = std::filesystem;

class VerifyCommandTest : public ClusterTest<VerifyCommandTest> {
 public:
  static ClusterSetup cluster_setup() {
    return {.settings = {}, .tablespace = false, .pgbench_scale = 1, .once_per_process = false};
  }

 protected:
  void configure(IniConfig& c) override {
    ClusterTest::configure(c);
    c.set("pgmoneta", "progress", "on");
  }

  // verify primary <label> <workspace> [all] -F json.
  CliResult verify(const std::string& label, bool all) {
    std::vector<std::string> args = {"verify", "primary", label, workspace()};
    if (all) {
      args.emplace_back("all");
    }
    return cli(args, "json");
  }

  static const nlohmann::json& list_of(const CliResult& r, const std::string& key) {
    static const nlohmann::json kNull;
    if (!r.json) {
      return kNull;
    }
    const nlohmann::json* found = find_key(*r.json, key);
    return found != nullptr ? *found : kNull;
  }

  // The verify failed (non-zero exit) and Failed names data/<path>.
  void expect_failure_named(const std::string& label, const std::string& path,
                            const std::string& why) {
    SCOPED_TRACE(why + ": " + path);
    CliResult r = verify(label, false);
    EXPECT_NE(r.exit_code(), 0) << r.describe();
    const nlohmann::json& failed = list_of(r, "Failed");
    ASSERT_TRUE(failed.is_array() && !failed.empty()) << r.describe();
    fs::path p(path);
    std::string dir = p.parent_path().string();
    std::string name = p.filename().string();
    bool named = false;
    for (const nlohmann::json& f : failed) {
      if (f.value("FileName", "") == name && f.value("Directory", "") == dir) {
        named = true;
        EXPECT_EQ(f.value("HashAlgorithm", ""), "SHA512");
        EXPECT_FALSE(f.value("Problem", "").empty());
      }
    }
    EXPECT_TRUE(named) << path << " not in Failed: " << failed.dump(2);
    EXPECT_EQ(failed.size(), 1u) << failed.dump(2);
  }

  // Biggest unshared stored files of the backup under data/base with `suffix`: data-relative
  // manifest paths (suffix removed).
  std::vector<std::string> relation_files(const std::string& backup_dir,
                                          const std::string& suffix) {
    std::vector<std::string> out;
    for (const auto& [size, rel] : unshared_files(backup_dir + "/data")) {
      if (rel.rfind("base/", 0) == 0 && rel.size() > suffix.size() &&
          rel.compare(rel.size() - suffix.size(), suffix.size(), suffix) == 0 && size > 1024) {
        out.push_back(rel.substr(0, rel.size() - suffix.size()));
      }
    }
    return out;
  }

  static void flip_byte(const std::string& path) {
    std::string data = read_all(path);
    ASSERT_GT(data.size(), 100u);
    data[data.size() / 2] = static_cast<char>(data[data.size() / 2] ^ 0x10);
    write_all(path, data);
  }
};

TEST_F(VerifyCommandTest, CleanBackupVerifiesAndEachDamageIsNamed) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  std::string dir = daemon_backup_root(daemon()) + "/" + label;

  CliResult clean = verify("newest", true);
  ASSERT_EQ(clean.exit_code(), 0) << clean.describe();
  const nlohmann::json& all = list_of(clean, "All");
  ASSERT_TRUE(all.is_array()) << clean.describe();
  EXPECT_GT(all.size(), 900u);
  const nlohmann::json& failed = list_of(clean, "Failed");
  ASSERT_TRUE(failed.is_array());
  EXPECT_TRUE(failed.empty()) << failed.dump(2);
  const nlohmann::json* valid = find_key(*clean.json, "Valid");
  ASSERT_NE(valid, nullptr);
  EXPECT_EQ(*valid, true);

  std::vector<std::string> files = relation_files(dir, ".zstd");
  ASSERT_GE(files.size(), 3u);

  {  // a flipped byte in a compressed relation file
    std::string stored = dir + "/data/" + files[0] + ".zstd";
    std::string original = read_all(stored);
    ASSERT_NO_FATAL_FAILURE(flip_byte(stored));
    ASSERT_NO_FATAL_FAILURE(expect_failure_named(label, files[0], "flipped byte"));
    write_all(stored, original);
  }
  {  // a truncated file
    std::string stored = dir + "/data/" + files[1] + ".zstd";
    std::string original = read_all(stored);
    write_all(stored, original.substr(0, original.size() / 2));
    ASSERT_NO_FATAL_FAILURE(expect_failure_named(label, files[1], "truncated"));
    write_all(stored, original);
  }
  {  // a deleted file (moved away and back: rename keeps its owner)
    std::string stored = dir + "/data/" + files[2] + ".zstd";
    std::string aside = dir + "/moved-aside";
    fs::rename(stored, aside);
    ASSERT_NO_FATAL_FAILURE(expect_failure_named(label, files[2], "deleted"));
    fs::rename(aside, stored);
  }
  {  // an extra file
    std::string extra = dir + "/data/base/extra_file.zstd";
    write_all(extra, "not part of the backup");
    ASSERT_NO_FATAL_FAILURE(expect_failure_named(label, "base/extra_file.zstd", "extra"));
    fs::remove(extra);
  }
  CliResult again = verify(label, false);
  EXPECT_EQ(again.exit_code(), 0) << "the damage was undone: " << again.describe();
}

TEST_F(VerifyCommandTest, EncryptedBackupVerifiesAndAFlippedByteIsNamed) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  ASSERT_NO_FATAL_FAILURE(
      reload_with([](IniConfig& c) { c.set("pgmoneta", "encryption", "aes-256-gcm"); }));
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  std::string dir = daemon_backup_root(daemon()) + "/" + label;

  CliResult clean = verify(label, true);
  ASSERT_EQ(clean.exit_code(), 0) << clean.describe();
  EXPECT_GT(list_of(clean, "All").size(), 900u);

  std::vector<std::string> files = relation_files(dir, ".zstd.aes");
  ASSERT_FALSE(files.empty());
  std::string stored = dir + "/data/" + files[0] + ".zstd.aes";
  std::string original = read_all(stored);
  ASSERT_NO_FATAL_FAILURE(flip_byte(stored));
  ASSERT_NO_FATAL_FAILURE(expect_failure_named(label, files[0], "flipped byte, AES"));
  write_all(stored, original);
  EXPECT_EQ(verify(label, false).exit_code(), 0);
}

TEST_F(VerifyCommandTest, PeriodicVerificationLogsTheDamagedFile) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  std::string dir = daemon_backup_root(daemon()) + "/" + label;
  std::vector<std::string> files = relation_files(dir, ".zstd");
  ASSERT_FALSE(files.empty());
  std::string stored = dir + "/data/" + files[0] + ".zstd";
  std::string original = read_all(stored);
  write_all(stored, original.substr(0, original.size() / 2));
  expect_log_errors({"verification: backup " + label});
  // verification = 0 (the default) ran nothing so far.
  EXPECT_EQ(daemon().log().find("verification: backup"), std::string::npos);
  ASSERT_NO_FATAL_FAILURE(
      reload_with([](IniConfig& c) { c.set("pgmoneta", "verification", "2s"); }));
  EXPECT_TRUE(daemon().wait_for_log(
      "verification: backup " + label + " of server primary: " + files[0], seconds(30)))
      << "no periodic verification line naming " << files[0];
  write_all(stored, original);
}

}  // namespace
}  // namespace pgm::testing
