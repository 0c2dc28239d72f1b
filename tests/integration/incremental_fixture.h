// IncrementalTest: the fixture of the incremental backup integration tests (RestoreTest's
// PostgreSQL 15 and daemon), with helpers to take an incremental backup through the CLI, read
// a backup's `info`, run SQL and list a backup's stored INCREMENTAL files.
// Single-threaded, as the harness.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "integration/backup_helpers.h"
#include "integration/restore_fixture.h"

namespace pgm::testing {

class IncrementalTest : public RestoreTest {
 protected:
  // backup <server> <parent>; the new label, "" after an ADD_FAILURE.
  std::string take_incremental(const std::string& parent) {
    CliResult r = cli({"backup", "primary", parent}, "raw");
    if (r.exit_code() != 0 || !r.json || !r.json->contains("Response")) {
      ADD_FAILURE() << "incremental backup failed: " << r.describe();
      return "";
    }
    return (*r.json)["Response"].value("Backup", "");
  }

  nlohmann::json info_of(const std::string& label) {
    CliResult r = cli({"info", "primary", label}, "raw");
    EXPECT_EQ(r.exit_code(), 0) << r.describe();
    return r.json ? (*r.json)["Response"] : nlohmann::json();
  }

  void sql(const std::string& statement) {
    CommandOutput out = pg()->psql(statement);
    ASSERT_EQ(out.exit_code, 0) << statement << ": " << out.describe();
  }

  // The stored INCREMENTAL files of a backup, relative to its data/.
  std::vector<std::string> incremental_files(const std::string& label) {
    std::vector<std::string> found;
    const std::string data = daemon_backup_root(daemon()) + "/" + label + "/data";
    for (const auto& e : std::filesystem::recursive_directory_iterator(data)) {
      if (e.path().filename().string().rfind("INCREMENTAL.", 0) == 0) {
        found.push_back(std::filesystem::relative(e.path(), data).string());
      }
    }
    return found;
  }
};

}  // namespace pgm::testing
