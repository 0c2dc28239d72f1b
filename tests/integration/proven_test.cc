// Proven restores end to end (ours): the real daemon backs up a real PostgreSQL 15 (pgbench
// scale 1, client zstd) and `pgmoneta-cli verify <server> <id> <dir> --start` restores the
// backup, starts a throwaway PostgreSQL 15 on the copy and checks it:
//
//  - a good backup is proven: exit 0, ProvenRestore true, backup.info PROVEN_RESTORE=1, `info`
//    and `status details` show it, and nothing is left in the workspace;
//  - a backup whose global/pg_control was damaged and re-stored consistently (recompressed,
//    backup.manifest and backup.sha512 updated, so the checksum verify passes and only
//    starting PostgreSQL can tell) fails: exit 1, the reason names the control file, and
//    backup.info records PROVEN_RESTORE=0 with the reason;
//  - the periodic job (verification + verification_start) proves the newest backup.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "integration/backup_helpers.h"
#include "integration/cluster_fixture.h"
#include "integration/harness.h"
#include "integration/wal_helpers.h"

#include "pgm/backup/file_verbs.h"
#include "pgm/backup/info.h"
#include "pgm/crypto/digest.h"

namespace pgm::testing {
namespace {

using std::chrono::seconds;
namespace fs = std::filesystem;

class ProvenRestoreTest : public ClusterTest<ProvenRestoreTest> {
 public:
  static ClusterSetup cluster_setup() {
    return {.settings = {}, .tablespace = false, .pgbench_scale = 1, .once_per_process = false};
  }

 protected:
  CliResult verify_start(const std::string& id) {
    return cli({"verify", "primary", id, workspace(), "--start"}, "json");
  }

  // Names in the workspace starting with "proven-" (leftovers of a proof).
  std::vector<std::string> leftovers() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(workspace(), ec)) {
      if (e.path().filename().string().rfind("proven-", 0) == 0) {
        out.push_back(e.path().string());
      }
    }
    return out;
  }

  static std::string sha512_hex(const std::string& data) {
    auto h = crypto::Sha512::create();
    if (!h) {
      return "";
    }
    h->update(std::string_view(data));
    return crypto::Sha512::hex(h->final());
  }
  // Replaces the checksum of `path` in a "path,sha" (manifest) text.
  static std::string replace_manifest_line(const std::string& text, const std::string& path,
                                           const std::string& sha) {
    auto entries = backup::parse_manifest(text);
    if (!entries) {
      return text;
    }
    for (backup::ManifestEntry& e : *entries) {
      if (e.path == path) {
        e.sha512 = sha;
      }
    }
    auto out = backup::format_manifest(*entries);
    return out ? *out : text;
  }
  static std::string replace_sha512_lines(
      const std::string& text, const std::vector<std::pair<std::string, std::string>>& changes) {
    auto entries = backup::parse_sha512_file(text);
    if (!entries) {
      return text;
    }
    std::string out;
    for (backup::Sha512Entry& e : *entries) {
      for (const auto& [path, hex] : changes) {
        if (e.path == path) {
          e.hex = hex;
        }
      }
      out += backup::format_sha512_line(e);
    }
    return out;
  }
};

TEST_F(ProvenRestoreTest, GoodBackupIsProvenAndADamagedControlFileIsNot) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  std::string dir = daemon_backup_root(daemon()) + "/" + label;

  auto started = std::chrono::steady_clock::now();
  CliResult good = verify_start("newest");
  double good_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(good.exit_code(), 0) << good.describe() << "\n" << tail(daemon().log());
  ASSERT_TRUE(good.json.has_value());
  const nlohmann::json* proven = find_key(*good.json, "ProvenRestore");
  ASSERT_NE(proven, nullptr) << good.describe();
  EXPECT_EQ(*proven, true) << good.describe();
  const nlohmann::json* dbs = find_key(*good.json, "ProvenRestoreDatabases");
  ASSERT_NE(dbs, nullptr);
  EXPECT_GE(dbs->get<int>(), 2);  // postgres, template1
  const nlohmann::json* indexes = find_key(*good.json, "ProvenRestoreIndexes");
  ASSERT_NE(indexes, nullptr);
  EXPECT_GT(indexes->get<int>(), 100);  // amcheck ships with PostgreSQL 15
  const nlohmann::json* tables = find_key(*good.json, "ProvenRestoreTables");
  ASSERT_NE(tables, nullptr);
  EXPECT_GE(tables->get<int>(), 4);  // the pgbench tables
  std::cout << "proven restore of a good backup: " << good_seconds << " s (CLI), "
            << find_key(*good.json, "ProvenRestoreElapsed")->dump() << " s (daemon)\n";

  std::map<std::string, std::string> info = read_info_file(dir);
  EXPECT_EQ(info["PROVEN_RESTORE"], "1");
  EXPECT_TRUE(backup::is_label(info["PROVEN_RESTORE_TIME"])) << info["PROVEN_RESTORE_TIME"];
  EXPECT_FALSE(info["PROVEN_RESTORE_ELAPSED"].empty());
  EXPECT_EQ(info["PROVEN_RESTORE_REASON"], "");
  EXPECT_TRUE(leftovers().empty()) << leftovers().front();

  CliResult shown = cli({"info", "primary", label}, "json");
  ASSERT_EQ(shown.exit_code(), 0) << shown.describe();
  const nlohmann::json* shown_proven = find_key(*shown.json, "ProvenRestore");
  ASSERT_NE(shown_proven, nullptr) << shown.describe();
  EXPECT_EQ(*shown_proven, true);

  CliResult details = cli({"status", "details"}, "json");
  ASSERT_EQ(details.exit_code(), 0) << details.describe();
  nlohmann::json server = find_server(*details.json, "primary");
  ASSERT_TRUE(server.is_object()) << details.describe();
  EXPECT_EQ(server.value("ProvenRestore", -2), 1) << server.dump(2);
  EXPECT_EQ(server.value("ProvenRestoreBackup", ""), label);

  // Damage pg_control's plaintext (system identifier: the CRC no longer matches) and store it
  // consistently: same compression, manifest and backup.sha512 updated.
  std::string stored = dir + "/data/global/pg_control.zstd";
  ASSERT_TRUE(fs::exists(stored)) << stored;
  std::string original_stored = read_all(stored);
  std::string original_manifest = read_all(dir + "/backup.manifest");
  std::string original_sha512 = read_all(dir + "/backup.sha512");
  TempDir scratch;
  std::string copy = scratch / "pg_control.zstd";
  write_all(copy, original_stored);
  auto plain_path = backup::decompress_file(copy);
  ASSERT_TRUE(plain_path.has_value()) << plain_path.error().message();
  std::string plain = read_all(*plain_path);
  ASSERT_EQ(plain.size(), 8192u);
  for (int i = 0; i < 8; ++i) {
    plain[static_cast<size_t>(i)] = static_cast<char>(plain[static_cast<size_t>(i)] ^ 0x5a);
  }
  write_all(*plain_path, plain);
  auto recompressed = backup::compress_file(*plain_path, compress::Algorithm::kZstd, 3);
  ASSERT_TRUE(recompressed.has_value()) << recompressed.error().message();
  std::string new_stored = read_all(*recompressed);
  write_all(stored, new_stored);
  std::string manifest =
      replace_manifest_line(original_manifest, "global/pg_control", sha512_hex(plain));
  ASSERT_NE(manifest, original_manifest);
  write_all(dir + "/backup.manifest", manifest);
  std::string sha512 = replace_sha512_lines(
      original_sha512, {{"backup.manifest", sha512_hex(manifest)},
                        {"data/global/pg_control.zstd", sha512_hex(new_stored)}});
  ASSERT_NE(sha512, original_sha512);
  write_all(dir + "/backup.sha512", sha512);

  CliResult plain_verify = cli({"verify", "primary", label, workspace()}, "json");
  ASSERT_EQ(plain_verify.exit_code(), 0)
      << "the checksums must still pass: " << plain_verify.describe();

  started = std::chrono::steady_clock::now();
  CliResult bad = verify_start(label);
  double bad_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(bad.exit_code(), 1) << bad.describe();
  std::cout << "proven restore of a damaged backup: " << bad_seconds << " s; " << bad.err();
  EXPECT_NE(bad.err().find("control file"), std::string::npos) << bad.describe();
  ASSERT_TRUE(bad.json.has_value());
  const nlohmann::json* bad_proven = find_key(*bad.json, "ProvenRestore");
  ASSERT_NE(bad_proven, nullptr) << bad.describe();
  EXPECT_EQ(*bad_proven, false);
  const nlohmann::json* reason = find_key(*bad.json, "ProvenRestoreReason");
  ASSERT_NE(reason, nullptr);
  EXPECT_NE(reason->get<std::string>().find("control file"), std::string::npos) << *reason;

  info = read_info_file(dir);
  EXPECT_EQ(info["PROVEN_RESTORE"], "0");
  EXPECT_NE(info["PROVEN_RESTORE_REASON"].find("control file"), std::string::npos)
      << info["PROVEN_RESTORE_REASON"];
  EXPECT_TRUE(leftovers().empty()) << leftovers().front();
  // backup.info changed, and backup.sha512 with it: a plain verify still passes.
  EXPECT_EQ(cli({"verify", "primary", label, workspace()}, "json").exit_code(), 0);

  CliResult bad_details = cli({"status", "details"}, "json");
  EXPECT_EQ(find_server(*bad_details.json, "primary").value("ProvenRestore", -2), 0);

  write_all(stored, original_stored);
  write_all(dir + "/backup.manifest", original_manifest);
}

TEST_F(ProvenRestoreTest, PeriodicVerificationProvesTheNewestBackup) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  daemon().config().set("pgmoneta", "verification", "2s");
  daemon().config().set("pgmoneta", "verification_start", "on");
  daemon().config().set("pgmoneta", "workspace", workspace());
  daemon().write_config();
  CliResult r = cli({"conf", "reload"});
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  EXPECT_TRUE(daemon().wait_for_log(
      "verification: proven restore of backup " + label + " of server primary: ok", seconds(120)))
      << tail(daemon().log());
  std::string dir = daemon_backup_root(daemon()) + "/" + label;
  EXPECT_EQ(read_info_file(dir)["PROVEN_RESTORE"], "1");
}

}  // namespace
}  // namespace pgm::testing
