// JSON parity with pgmoneta 0.22 (issue 18): for every command whose `-F json` output pgmoneta's
// own CLI printed against pgmoneta's own daemon (../shared/fixtures/pgmoneta-0.22/json), our CLI
// against our daemon prints every key of that document with the same JSON type. Our extra keys
// are allowed; a key pgmoneta prints and we do not, or one of another type, fails the test and
// is named by its path (Response.Servers[0].RetentionWeeks: want string, got number).
//
// Rules of the comparison (shape(), below):
//  - numbers match numbers (integer or not), strings strings, booleans booleans;
//  - a null in pgmoneta's document (an unset value: Comments, IncrementalParent, s3_bucket, …)
//    matches null or a string, because a set value is a string there;
//  - an array matches an array; when both have elements, pgmoneta's first element is compared
//    with our first (the elements of one list share a shape);
//  - an empty object in pgmoneta's document matches an array too: pgmoneta prints a list it
//    never filled (Tablespaces of a backup without any) as {};
//  - a few documented differences are allowed (kAllowed): where pgmoneta's output is a defect
//    of its own, not a contract (Header Command, Compression, Encryption and Output as bare
//    numbers for `conf get <key>` and `conf set`), or describes a failure ours does not have
//    (pgmoneta's archive failed with error 904; ours succeeds, so its Outcome and Response differ).
//
// The daemon backs up the suite's PostgreSQL 15 twice (retain/expunge take the oldest, delete
// the newest), and each command runs as in the fixture's README. The test skips with a message
// when ../shared/fixtures is absent.
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "integration/cluster_fixture.h"
#include "integration/harness.h"

namespace pgm::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kGoldenDir = fs::path(PGM_SHARED_FIXTURES) / "pgmoneta-0.22" / "json";

// Paths whose difference from pgmoneta's document is intended (see the file comment).
const std::set<std::string> kAllowed = {
    "conf-get-key.json:Header.Command",    "conf-get-key.json:Header.Compression",
    "conf-get-key.json:Header.Encryption", "conf-get-key.json:Header.Output",
    "conf-set.json:Header.Command",        "conf-set.json:Header.Compression",
    "conf-set.json:Header.Encryption",     "conf-set.json:Header.Output",
    "archive.json:Outcome.Error",          "archive.json:Outcome.Workflow",
};

std::string type_name(const nlohmann::json& v) {
  if (v.is_number()) {
    return "number";
  }
  return v.type_name();
}

// Appends to `problems` every key of `want` (pgmoneta's) that `got` (ours) lacks or holds with
// another type, as "path: ...".
void shape(const nlohmann::json& want, const nlohmann::json& got, const std::string& path,
           std::vector<std::string>& problems) {
  if (want.is_null()) {
    if (!got.is_null() && !got.is_string()) {
      problems.push_back(path + ": want null or string, got " + type_name(got));
    }
    return;
  }
  if (want.is_object() && want.empty() && got.is_array()) {
    return;
  }
  if (type_name(want) != type_name(got)) {
    problems.push_back(path + ": want " + type_name(want) + ", got " + type_name(got) +
                       " (ours: " + got.dump().substr(0, 80) + ")");
    return;
  }
  if (want.is_object()) {
    for (const auto& [key, value] : want.items()) {
      const std::string child = path.empty() ? key : path + "." + key;
      if (!got.contains(key)) {
        problems.push_back(child + ": missing (pgmoneta: " + value.dump().substr(0, 80) + ")");
        continue;
      }
      shape(value, got.at(key), child, problems);
    }
  } else if (want.is_array() && !want.empty() && !got.empty()) {
    shape(want.front(), got.front(), path + "[0]", problems);
  }
}

class JsonParityTest : public ClusterTest<JsonParityTest> {
 public:
  static ClusterSetup cluster_setup() {
    return {.settings = {}, .tablespace = false, .pgbench_scale = 1, .once_per_process = false};
  }

 protected:
  void configure(IniConfig& c) override {
    ClusterTest::configure(c);
    c.set("pgmoneta", "progress", "on");  // the figures are zeros either way: no backup runs
  }

  // Our `-F json` output of `args` against pgmoneta's document `golden`; every difference not in
  // kAllowed is a failure naming the file and path.
  void compare(const std::string& golden, const std::vector<std::string>& args) {
    SCOPED_TRACE(golden);
    std::ifstream in(kGoldenDir / golden);
    ASSERT_TRUE(in) << "cannot read " << (kGoldenDir / golden);
    nlohmann::json want = nlohmann::json::parse(in);
    CliResult r = cli(args, "json");
    ASSERT_TRUE(r.json.has_value()) << r.describe();
    std::vector<std::string> problems;
    shape(want, *r.json, "", problems);
    std::string report;
    for (const std::string& p : problems) {
      if (kAllowed.count(golden + ":" + p.substr(0, p.find(':'))) == 0) {
        report += "  " + p + "\n";
      }
    }
    EXPECT_TRUE(report.empty()) << golden << " (pgmoneta-cli " << want["Header"]["Command"]
                                << "): keys pgmoneta prints that ours lacks or types differently:\n"
                                << report;
  }
};

TEST_F(JsonParityTest, EveryCommandCarriesPgmonetasKeysWithTheirTypes) {
  if (!fs::is_directory(kGoldenDir)) {
    GTEST_SKIP() << "no pgmoneta 0.22 fixture at " << kGoldenDir
                 << " (../shared/fixtures beside the source tree)";
  }
  ASSERT_NO_FATAL_FAILURE(start_online());
  const std::string oldest = take_backup();
  const std::string newest = take_backup();
  ASSERT_FALSE(oldest.empty());
  ASSERT_FALSE(newest.empty());
  const std::string restore_dir = daemon().dir() / "restore";
  // Not created first: archive creates a missing directory, as pgmoneta does.
  const std::string archive_dir = daemon().dir() / "archive/new";

  compare("ping.json", {"ping"});
  compare("status.json", {"status"});
  compare("status-details.json", {"status", "details"});
  compare("list-backup.json", {"list-backup", "primary"});
  compare("info.json", {"info", "primary", newest});
  compare("verify.json", {"verify", "primary", newest, workspace(), "all"});
  compare("progress.json", {"progress", "primary", "backup"});
  compare("annotate-add.json", {"annotate", "primary", newest, "add", "note1", "value1"});
  compare("annotate-update.json", {"annotate", "primary", newest, "update", "note1", "value2"});
  compare("annotate-remove.json", {"annotate", "primary", newest, "remove", "note1"});
  compare("retain.json", {"retain", "primary", oldest});
  compare("expunge.json", {"expunge", "primary", oldest});
  compare("conf-ls.json", {"conf", "ls"});
  compare("conf-get.json", {"conf", "get"});
  compare("conf-get-key.json", {"conf", "get", "log_level"});
  compare("conf-set.json", {"conf", "set", "log_level", "info"});
  compare("mode-offline.json", {"mode", "primary", "offline"});
  compare("mode-online.json", {"mode", "primary", "online"});
  compare("restore.json", {"restore", "primary", newest, restore_dir});
  compare("archive.json", {"archive", "primary", newest, archive_dir});
  EXPECT_TRUE(fs::is_directory(archive_dir));
  compare("clear.json", {"clear", "prometheus"});
  compare("delete.json", {"delete", "primary", newest});
}

}  // namespace
}  // namespace pgm::testing
