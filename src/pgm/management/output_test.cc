#include "pgm/management/output.h"

#include <gtest/gtest.h>

namespace pgm::management {
namespace {

using nlohmann::json;

json list_backup_doc() {
  return json::parse(R"({
    "Header": {"ClientVersion": "0.22.0", "Command": 2, "Compression": 0, "Encryption": 0,
               "Output": 0, "Timestamp": "20240101120000"},
    "Outcome": {"Status": true, "Time": "00:00:0.0012"},
    "Request": {"Server": "primary", "Sort": "asc"},
    "Response": {
      "Backups": [
        {"Backup": "20240101115900", "BackupSize": 831881216, "Comments": "", "Compression": 2,
         "Encryption": 0, "Incremental": false, "Keep": true, "Valid": 1, "WAL": 16777216},
        {"Backup": "20240101120000", "BackupSize": 0, "Compression": 0, "Valid": 0}
      ],
      "MajorVersion": 15, "NumberOfBackups": 2, "Server": "primary", "ServerVersion": "0.22.0"
    }})");
}

TEST(OutputTest, TextGoldenListBackup) {
  const char* expected =
      "Header:\n"
      "  ClientVersion: 0.22.0\n"
      "  Command: list-backup\n"
      "  Compression: none\n"
      "  Encryption: none\n"
      "  Output: text\n"
      "  Timestamp: 20240101120000\n"
      "Outcome:\n"
      "  Status: true\n"
      "  Time: 00:00:0.0012\n"
      "Request:\n"
      "  Server: primary\n"
      "  Sort: asc\n"
      "Response:\n"
      "  Backups:\n"
      "    - Backup: 20240101115900\n"
      "      BackupSize: 793.34MB\n"
      "      Comments: ''\n"
      "      Compression: zstd\n"
      "      Encryption: none\n"
      "      Incremental: false\n"
      "      Keep: true\n"
      "      Valid: yes\n"
      "      WAL: 16.00MB\n"
      "    - Backup: 20240101120000\n"
      "      BackupSize: 0.00B\n"
      "      Compression: none\n"
      "      Valid: no\n"
      "  MajorVersion: 15\n"
      "  NumberOfBackups: 2\n"
      "  Server: primary\n"
      "  ServerVersion: 0.22.0\n";
  EXPECT_EQ(render(list_backup_doc(), OutputFormat::kText), expected);
}

TEST(OutputTest, TextGoldenPingWithEmptyRequest) {
  json doc = json::parse(R"({
    "Header": {"ClientVersion": "0.22.0", "Command": 9, "Compression": 2, "Encryption": 1,
               "Output": 0, "Timestamp": "20240101120000"},
    "Outcome": {"Status": false, "Error": 2, "Workflow": "main", "WorkerErrors": ["a", "b"]},
    "Request": {},
    "Response": {"ServerVersion": "0.22.0", "Ratio": 0.5}})");
  const char* expected =
      "Header:\n"
      "  ClientVersion: 0.22.0\n"
      "  Command: ping\n"
      "  Compression: zstd\n"
      "  Encryption: aes-256-gcm\n"
      "  Output: text\n"
      "  Timestamp: 20240101120000\n"
      "Outcome:\n"
      "  Error: 2\n"
      "  Status: false\n"
      "  WorkerErrors:\n"
      "    - a\n"
      "    - b\n"
      "  Workflow: main\n"
      "Request: \n"
      "Response:\n"
      "  Ratio: 0.500000\n"
      "  ServerVersion: 0.22.0\n";
  EXPECT_EQ(render(doc, OutputFormat::kText), expected);
}

TEST(OutputTest, JsonIsTranslatedAndPretty) {
  json doc = json::parse(R"({"Header": {"Command": 7, "Output": 1},
    "Response": {"FreeSpace": 2048, "Servers": [{"ServerSize": 1536, "RetentionDays": -1,
                 "RetentionWeeks": 4}]}})");
  const char* expected =
      "{\n"
      "  \"Header\": {\n"
      "    \"Command\": \"status\",\n"
      "    \"Output\": \"json\"\n"
      "  },\n"
      "  \"Response\": {\n"
      "    \"FreeSpace\": \"2.00kB\",\n"
      "    \"Servers\": [\n"
      "      {\n"
      "        \"RetentionDays\": \"Unspecified\",\n"
      "        \"RetentionWeeks\": 4,\n"
      "        \"ServerSize\": \"1.50kB\"\n"
      "      }\n"
      "    ]\n"
      "  }\n"
      "}\n";
  EXPECT_EQ(render(doc, OutputFormat::kJson), expected);
}

TEST(OutputTest, RawIsUntranslated) {
  json doc = json::parse(R"({"Header": {"Command": 7}, "Response": {"FreeSpace": 2048}})");
  EXPECT_EQ(render(doc, OutputFormat::kRaw),
            "{\n  \"Header\": {\n    \"Command\": 7\n  },\n  \"Response\": {\n"
            "    \"FreeSpace\": 2048\n  }\n}\n");
}

TEST(OutputTest, InfoTranslatesLsnAndKeepsWalSegmentName) {
  json doc = json::parse(R"({"Header": {"Command": 18},
    "Response": {"WAL": "000000010000000000000002", "StartHiLSN": 0, "StartLoLSN": 167772200,
                 "RestoreSize": 1073741824}})");
  json t = translate(doc);
  EXPECT_EQ(t["Response"]["WAL"], "000000010000000000000002");
  EXPECT_EQ(t["Response"]["StartLoLSN"], "A000028");
  EXPECT_EQ(t["Response"]["StartHiLSN"], "0");
  EXPECT_EQ(t["Response"]["RestoreSize"], "1.00GB");
}

TEST(OutputTest, BackupInfoTypeBytesAndRepositoryKeysAreTranslated) {
  json doc = json::parse(R"({"Header": {"Command": 2},
    "Response": {"Backups": [
      {"Backup": "20260101000000", "Compression": 18, "Encryption": 1, "Valid": true,
       "Keep": false, "Delta": 16777216, "WAL": 33554432, "BiggestFileSize": 1024,
       "RestoreSize": 0, "Incremental": true, "IncrementalParent": "20251231000000"},
      {"Backup": "20260102000000", "Compression": 33, "Valid": false},
      {"Backup": "20260103000000", "Compression": 20},
      {"Backup": "20260104000000", "Compression": 99}]}})");
  json b = translate(doc)["Response"]["Backups"];
  EXPECT_EQ(b[0]["Compression"], "zstd");
  EXPECT_EQ(b[0]["Encryption"], "aes-256-gcm");
  EXPECT_EQ(b[0]["Valid"], "yes");
  EXPECT_EQ(b[0]["Keep"], false);
  EXPECT_EQ(b[0]["Delta"], "16.00MB");
  EXPECT_EQ(b[0]["WAL"], "32.00MB");
  EXPECT_EQ(b[0]["BiggestFileSize"], "1.00kB");
  EXPECT_EQ(b[0]["RestoreSize"], "0.00B");  // pgmoneta 0.22 prints 0 as a size too
  EXPECT_EQ(b[0]["IncrementalParent"], "20251231000000");
  EXPECT_EQ(b[1]["Compression"], "gzip");  // 0x21 server gzip
  EXPECT_EQ(b[1]["Valid"], "no");
  EXPECT_EQ(b[2]["Compression"], "bzip2");
  EXPECT_EQ(b[3]["Compression"], 99);  // unknown stays a number

  json info = json::parse(R"({"Header": {"Command": 18},
    "Response": {"Compression": 19, "Valid": true, "Elapsed": 1.5,
                 "Tablespaces": [{"TablespaceName": "tblspc_a", "TablespaceOid": "16384"}]}})");
  json r = translate(info)["Response"];
  EXPECT_EQ(r["Compression"], "lz4");
  EXPECT_EQ(r["Valid"], "yes");
  EXPECT_EQ(r["Tablespaces"][0]["TablespaceOid"], "16384");
}

TEST(OutputTest, NestedArraysAndFirstKeyObjects) {
  json v = json::parse(R"({"L": [{"A": {"x": 1}, "B": 2}, [1, 2], 3]})");
  const char* expected =
      "L:\n"
      "  - A:\n"
      "    x: 1\n"
      "    B: 2\n"
      "  - - 1\n"
      "    - 2\n"
      "  - 3";
  EXPECT_EQ(render_text(v), expected);
}

TEST(OutputTest, FormatSize) {
  EXPECT_EQ(format_size(0), "0.00B");
  EXPECT_EQ(format_size(1023), "1023.00B");
  EXPECT_EQ(format_size(1024), "1.00kB");
  EXPECT_EQ(format_size(831881216), "793.34MB");
  EXPECT_EQ(format_size(1ULL << 50), "1.00PB");
  EXPECT_EQ(format_size(1ULL << 60), "1024.00PB");
}

json conf_response() {
  return json::parse(R"({"log_level": "info", "port": 5001, "ServerVersion": "0.22.0",
    "primary": {"host": "localhost", "port": 5432},
    "servers": [{"name": "replica", "port": 5433}],
    "server": {"standby": {"port": 5434}}})");
}

TEST(OutputTest, ConfigKeyForms) {
  json r = conf_response();
  EXPECT_EQ(*find_config_value(r, "log_level"), "info");
  EXPECT_EQ(*find_config_value(r, "pgmoneta.port"), 5001);
  EXPECT_EQ(*find_config_value(r, "server.primary.port"), 5432);
  EXPECT_EQ(*find_config_value(r, "primary.host"), "localhost");
  EXPECT_EQ(*find_config_value(r, "replica.port"), 5433);
  EXPECT_EQ(*find_config_value(r, "server.standby.port"), 5434);
  for (const char* bad :
       {"nope", "server.primary", "server.ghost.port", "primary.nope", "", "pgmoneta."}) {
    auto v = find_config_value(r, bad);
    ASSERT_FALSE(v.has_value()) << bad;
    EXPECT_EQ(v.error().code(), ErrorCode::kNotFound);
    EXPECT_EQ(v.error().message(), std::string("unknown configuration key '") + bad + "'");
  }
}

TEST(OutputTest, ConfigValueRendering) {
  EXPECT_EQ(render_config_value("log_level", "info", OutputFormat::kText), "info\n");
  EXPECT_EQ(render_config_value("port", 5001, OutputFormat::kRaw), "5001\n");
  EXPECT_EQ(render_config_value("port", 5001, OutputFormat::kJson), "{\"port\":5001}\n");
}

TEST(OutputTest, ConfLs) {
  json doc = json::parse(R"({"Response": {"ServerVersion": "0.22.0",
    "main_configuration_path": "/etc/pgmoneta/pgmoneta.conf",
    "users_configuration_path": "/etc/pgmoneta/pgmoneta_users.conf",
    "admin_configuration_path": ""}})");
  EXPECT_EQ(render_conf_ls(doc, OutputFormat::kText),
            "''\n/etc/pgmoneta/pgmoneta.conf\n/etc/pgmoneta/pgmoneta_users.conf\n");
  EXPECT_EQ(
      render_conf_ls(doc, OutputFormat::kJson),
      "{\"admin_configuration_path\":\"\",\"main_configuration_path\":\"/etc/pgmoneta/"
      "pgmoneta.conf\",\"users_configuration_path\":\"/etc/pgmoneta/pgmoneta_users.conf\"}\n");
  json ours =
      json::parse(R"({"Response": {"ServerVersion": "0.22.0", "MainConfigurationFile": "/a"}})");
  EXPECT_EQ(render_conf_ls(ours, OutputFormat::kText), "/a\n");
}

// conf get from pgmoneta's daemon (and ours): enums of the [pgmoneta] level (sent as
// {string_value, value}, or as bare codes by older daemons) become names,
// a server's create_slot stays its code, and text output shows {string_value, value} objects
// as their text while json keeps them.
TEST(OutputTest, ConfGetEnumsAndStringValueObjects) {
  json doc = json::parse(R"({"Header": {"Command": 22, "Output": 0},
    "Outcome": {"Status": true},
    "Response": {"compression": 2, "log_level": {"string_value": "debug1", "value": 2},
                 "create_slot": 1, "hugepage": {"string_value": "try", "value": 1},
                 "blocking_timeout": {"string_value": "30s", "value": 30},
                 "server": {"primary": {"create_slot": 0, "port": 5432}}}})");
  json t = translate(doc);
  EXPECT_EQ(t["Response"]["compression"], "zstd");
  EXPECT_EQ(t["Response"]["log_level"], "debug1");
  EXPECT_EQ(t["Response"]["hugepage"], "try");
  EXPECT_EQ(t["Response"]["create_slot"], "yes");
  EXPECT_EQ(t["Response"]["server"]["primary"]["create_slot"], 0);
  EXPECT_EQ(t["Response"]["blocking_timeout"]["value"], 30);
  std::string text = render(doc, OutputFormat::kText);
  EXPECT_NE(text.find("  blocking_timeout: 30s\n"), std::string::npos) << text;
  EXPECT_EQ(render_config_value("blocking_timeout", t["Response"]["blocking_timeout"],
                                OutputFormat::kText),
            "30s\n");
}

}  // namespace
}  // namespace pgm::management
