// archive end to end: the real daemon backs up the suite's PostgreSQL 15 (pgbench data plus a
// table in a tablespace) once zstd + AES and once plain, `pgmoneta-cli archive` turns each
// backup into one tar file, the file is decrypted and decompressed with the CLI's file verbs,
// extracted with tar(1) as the test user, and a second PostgreSQL 15 starts on the result
// (tablespace stored as a directory under pg_tblspc) with the source's table checksums.
// A second archive of the same backup into the same directory fails and keeps the first file.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "integration/harness.h"
#include "integration/restore_fixture.h"

namespace pgm::testing {
namespace {

class ArchiveIntegrationTest : public RestoreTest {
 protected:
  std::string tar_binary() {
    for (const char* p : {"/usr/bin/tar", "/bin/tar"}) {
      if (path_exists(p)) {
        return p;
      }
    }
    return "tar";
  }

  // Runs one file verb through the daemon; returns the destination file.
  std::string file_verb(const std::string& verb, const std::string& file) {
    CliResult r = cli({verb, file}, "json");
    EXPECT_EQ(r.exit_code(), 0) << r.describe();
    if (!r.json.has_value()) {
      ADD_FAILURE() << r.describe();
      return "";
    }
    return (*r.json)["Response"].value("DestinationFile", "");
  }
};

TEST_F(ArchiveIntegrationTest, ArchivesExtractWithTarAndStartWithTheSourceChecksums) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::string workspace = daemon().dir().make_dir("workspace");
  expect_log_errors({"already exists"});
  const std::vector<std::pair<std::string, std::string>> formats = {{"zstd", "aes-256-gcm"},
                                                                    {"none", "none"}};
  int n = 0;
  for (const auto& [compression, encryption] : formats) {
    SCOPED_TRACE("compression " + compression + ", encryption " + encryption);
    ++n;
    ASSERT_NO_FATAL_FAILURE(reload_with([&](IniConfig& c) {
      c.set("pgmoneta", "compression", compression);
      c.set("pgmoneta", "encryption", encryption);
      c.set("pgmoneta", "workspace", workspace);
    }));
    CommandOutput bench = pg()->run_tool("pgbench", {"-n", "-t", "50", "-c", "1"});
    ASSERT_EQ(bench.exit_code, 0) << bench.describe();
    std::string label = take_backup();
    ASSERT_FALSE(label.empty());
    std::string expected = checksums(*pg());
    ASSERT_NO_FATAL_FAILURE(wait_wal_received());

    std::string parent = restore_parent("archives" + std::to_string(n));
    auto started = std::chrono::steady_clock::now();
    CliResult r = cli({"archive", "primary", label, "current", parent}, "raw");
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ASSERT_EQ(r.exit_code(), 0) << r.describe();
    ASSERT_TRUE(r.json.has_value()) << r.describe();
    std::string suffix = compression == "zstd" ? ".zstd" : "";
    if (encryption != "none") {
      suffix += ".aes";
    }
    std::string file = parent + "/archive-primary-" + label + ".tar" + suffix;
    const nlohmann::json& response = (*r.json)["Response"];
    EXPECT_EQ(response.value("FileName", ""), file) << r.describe();
    EXPECT_EQ(response.value("Server", ""), "primary");
    EXPECT_EQ(response.value("Backup", ""), label);
    ASSERT_TRUE(path_exists(file)) << file;
    EXPECT_EQ(response.value("ArchiveSize", uint64_t{0}), std::filesystem::file_size(file));
    EXPECT_GT(response.value("RestoredBytes", uint64_t{0}), 0u);
    EXPECT_EQ(list_dir(parent).size(), 1u);
    EXPECT_TRUE(list_dir(workspace).empty()) << "staging left in " << workspace;
    std::cout << "[   INFO   ] " << compression << "/" << encryption << ": archive of "
              << response.value("RestoredBytes", uint64_t{0}) << " bytes -> "
              << response.value("ArchiveSize", uint64_t{0}) << " bytes in "
              << response.value("Elapsed", 0.0) << " s (cli " << took << " s)\n";

    // The same archive again: refused, the first file untouched, no staging left.
    std::string before = read_text(file);
    CliResult again = cli({"archive", "primary", label, "current", parent}, "raw");
    EXPECT_NE(again.exit_code(), 0) << again.describe();
    ASSERT_TRUE(again.json.has_value()) << again.describe();
    EXPECT_EQ((*again.json)["Outcome"].value("Error", 0), 903) << again.describe();
    EXPECT_NE(again.describe().find("already exists"), std::string::npos) << again.describe();
    EXPECT_EQ(read_text(file), before);
    EXPECT_EQ(list_dir(parent).size(), 1u);
    EXPECT_TRUE(list_dir(workspace).empty());

    // Back to a plain tar with the CLI's file verbs.
    std::string tar = file;
    if (encryption != "none") {
      tar = file_verb("decrypt", tar);
      ASSERT_EQ(tar, parent + "/archive-primary-" + label + ".tar" +
                         (compression == "zstd" ? ".zstd" : ""));
    }
    if (compression != "none") {
      tar = file_verb("decompress", tar);
      ASSERT_EQ(tar, parent + "/archive-primary-" + label + ".tar");
    }
    std::string data = restore_parent("extracted" + std::to_string(n));
    ProcessOptions x;
    x.argv = {tar_binary(), "-xf", tar, "-C", data};
    CommandOutput out = run_command(x, std::chrono::seconds(120));
    ASSERT_EQ(out.exit_code, 0) << out.describe();
    EXPECT_TRUE(path_exists(data + "/global/pg_control"));
    EXPECT_TRUE(path_exists(data + "/recovery.signal"));
    bool tablespace_dir = false;
    for (const auto& e : std::filesystem::directory_iterator(data + "/pg_tblspc")) {
      tablespace_dir = e.is_directory() && !e.is_symlink();
    }
    EXPECT_TRUE(tablespace_dir) << "pg_tblspc holds no tablespace directory";

    PostgresInstance* copy = start_copy(data);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(checksums(*copy), expected) << tail(copy->log());
    copies_.back()->stop();
    CliResult del = cli({"delete", "primary", label}, "raw");
    ASSERT_EQ(del.exit_code(), 0) << del.describe();
  }
}

TEST_F(ArchiveIntegrationTest, UnknownServerAndBackupFailWithArchiveCodes) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::string parent = restore_parent("archives");
  CliResult r = cli({"archive", "nosuch", "newest", "current", parent}, "raw");
  EXPECT_NE(r.exit_code(), 0);
  ASSERT_TRUE(r.json.has_value()) << r.describe();
  EXPECT_EQ((*r.json)["Outcome"].value("Error", 0), 901) << r.describe();
  r = cli({"archive", "primary", "20000101000000", "current", parent}, "raw");
  EXPECT_NE(r.exit_code(), 0);
  ASSERT_TRUE(r.json.has_value()) << r.describe();
  EXPECT_EQ((*r.json)["Outcome"].value("Error", 0), 900) << r.describe();
  EXPECT_TRUE(list_dir(parent).empty());
}

}  // namespace
}  // namespace pgm::testing
