#include "pgm/daemon/commands/backup_json.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pgm/backup/sample_info_test.h"

namespace pgm::daemon {
namespace {

using nlohmann::json;

backup::BackupInfo info_for(const std::string& label) { return backup::sample_info(label); }

backup::BackupEntry entry_for(const backup::BackupInfo& info) {
  return backup::BackupEntry{info.label, "/base/primary/backup/" + info.label, info, ""};
}

TEST(BackupJsonTest, ListEntryJsonHasExactlyPgmonetaKeys) {
  backup::BackupInfo info = info_for("20260101000000");
  info.comments = "k|v";
  json j = list_entry_json("primary", entry_for(info), backup::WalFigures{33554432, 16777216});
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) {
    keys.push_back(k);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"Backup", "BackupSize", "BiggestFileSize", "Comments",
                                            "Compression", "Delta", "Encryption", "Incremental",
                                            "IncrementalParent", "Keep", "RestoreSize", "Server",
                                            "Valid", "WAL"}));
  EXPECT_EQ(j["Backup"], "20260101000000");
  EXPECT_EQ(j["BackupSize"], 1000);
  EXPECT_EQ(j["Compression"], 0x12);
  EXPECT_EQ(j["Comments"], "k|v");
  EXPECT_EQ(j["Valid"], true);
  EXPECT_EQ(j["Keep"], false);
  EXPECT_EQ(j["Incremental"], false);
  EXPECT_EQ(j["WAL"], 33554432);
  EXPECT_EQ(j["Delta"], 16777216);

  backup::BackupEntry broken{"20260102000000", "/base/primary/backup/20260102000000", std::nullopt,
                             "x"};
  json jb = list_entry_json("primary", broken);
  EXPECT_EQ(jb["Valid"], false);
  EXPECT_EQ(jb.size(), 14u);
}

TEST(BackupJsonTest, RemoteCopiesAppearInListAndInfo) {
  backup::BackupInfo info = info_for("20260101000000");
  info.extra_keys.emplace_back("STORAGE_S3", "2026-11-26T13:42:07Z");
  info.extra_keys.emplace_back("STORAGE_SSH", "2026-11-26T13:42:09Z");
  json j = list_entry_json("primary", entry_for(info));
  EXPECT_EQ(j["Remote"], json::array({"s3", "ssh"}));
  json i = info_json("primary", entry_for(info));
  EXPECT_EQ(i["Remote"], json::array({"s3", "ssh"}));
  EXPECT_EQ(i["RemoteS3Stored"], "2026-11-26T13:42:07Z");
  EXPECT_EQ(i["RemoteSshStored"], "2026-11-26T13:42:09Z");
}

TEST(BackupJsonTest, InfoJsonCarriesEveryField) {
  backup::BackupInfo info = info_for("20260101000000");
  info.tablespaces.push_back({"tblspc_fast", "16384", "/mnt/fast"});
  info.type = backup::BackupType::kIncremental;
  info.parent = "20251231000000";
  info.elapsed = backup::Seconds(12.5);
  json j = info_json("primary", entry_for(info));
  EXPECT_EQ(j["WAL"], "000000010000000000000002");
  EXPECT_EQ(j["StartHiLSN"], 1);
  EXPECT_EQ(j["StartLoLSN"], 0x28);
  EXPECT_EQ(j["EndHiLSN"], 2);
  EXPECT_EQ(j["CheckpointLoLSN"], 0x60);
  EXPECT_EQ(j["NumberOfTablespaces"], 1);
  EXPECT_EQ(j["Tablespaces"][0]["TablespaceName"], "tblspc_fast");
  EXPECT_EQ(j["Tablespaces"][0]["TablespaceOid"], "16384");
  EXPECT_EQ(j["Tablespaces"][0]["TablespacePath"], "/mnt/fast");
  EXPECT_EQ(j["Incremental"], true);
  EXPECT_EQ(j["IncrementalParent"], "20251231000000");
  EXPECT_DOUBLE_EQ(j["Elapsed"].get<double>(), 12.5);
  EXPECT_EQ(j["MajorVersion"], 15);
  for (const char* k : {"BasebackupElapsed", "HashElapsed", "CompressionZstdElapsed",
                        "LinkingElapsed", "ManifestElapsed", "RemoteAzureElapsed", "Keep",
                        "Compression", "Encryption", "StartTimeline", "EndTimeline", "Comments",
                        "BackupSize", "RestoreSize", "BiggestFileSize", "MinorVersion"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
}

TEST(BackupJsonTest, InfoJsonOfBrokenEntryNamesTheProblem) {
  backup::BackupEntry broken{"20260102000000", "/x", std::nullopt, "backup.info: missing"};
  json j = info_json("primary", broken);
  EXPECT_EQ(j["Valid"], false);
  EXPECT_EQ(j["Problem"], "backup.info: missing");
  EXPECT_EQ(j.size(), 4u);
}

}  // namespace
}  // namespace pgm::daemon
