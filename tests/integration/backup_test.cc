// Full backups end to end: the real daemon backs up a real PostgreSQL 15 holding pgbench data
// and a table in a tablespace, driven through pgmoneta-cli.
//
//  - every compression (none, gzip, lz4, zstd, bzip2, server-zstd), with and without AES: each
//    stored file decrypts and decompresses (as a stream, concatenated frames included) to bytes
//    whose SHA-512 equals backup.manifest's and PostgreSQL's backup_manifest's; the real
//    `sha512sum -c backup.sha512` passes; backup.info says STATUS=1 and RESTORE = plaintext sum;
//  - kill -9 of the backup child right after the request, while streaming (slowed by
//    max_rate), and twice in the finishing phase: nothing valid is left, the CLI fails, the next
//    backup succeeds and the killed one's leftovers are gone;
//  - a second backup while one runs fails at once with 102;
//  - retention over backups fabricated under older labels (one retained) and WAL pruning;
//  - two backups with no write between them share their files (du counts hard links once);
//  - the catalog verbs: list-backup, info, annotate, retain/delete/expunge, progress.
//
// One PostgreSQL per process (ctest runs each case in its own), pgbench scale 2 plus a table in
// a tablespace, with autovacuum off and wal_recycle off so that two backups with no writes
// between them see the same data files, and new WAL segments are zero-filled.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <thread>

#include "integration/backup_helpers.h"
#include "integration/cluster_fixture.h"
#include "integration/harness.h"
#include "integration/wal_helpers.h"

#include "pgm/backup/info.h"
#include "pgm/wal/segment.h"

namespace pgm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr int kPgbenchScale = 2;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) {
    s += (s.empty() ? "" : ", ") + x;
  }
  return s;
}

// Everything in a backup root: label directories and any leftover (".delete-*", temp files).
std::vector<std::string> root_entries(const std::string& root) { return list_dir(root); }

class BackupTest : public ClusterTest<BackupTest> {
 public:
  // Once per process: should another suite derive from this fixture, it shares the cluster
  // (the harness would start one per suite); the cluster goes at exit.
  static ClusterSetup cluster_setup() {
    return {.settings = {"autovacuum = off", "wal_recycle = off", "checkpoint_timeout = '1h'",
                         "max_wal_size = '4GB'"},
            .tablespace = true,
            .pgbench_scale = kPgbenchScale,
            .once_per_process = true};
  }

 protected:
  void configure(IniConfig& c) override {
    ClusterTest::configure(c);
    c.set("pgmoneta", "update_process_title", "verbose");
    c.set("pgmoneta", "progress", "on");
    c.set("pgmoneta", "retention", "7");
  }

  std::string root() const { return daemon_backup_root(daemon_const()); }
  const DaemonInstance& daemon_const() const { return const_cast<BackupTest*>(this)->daemon(); }

  // A backup through the CLI; returns its label ("" after adding a failure), 14 characters.
  std::string take_backup() {
    std::string label = ClusterTest::take_backup();
    EXPECT_EQ(label.size(), 14u) << label;
    return label;
  }

  // list-backup's Backups array (null after adding a failure).
  nlohmann::json list_backups(const std::string& sort = "") {
    std::vector<std::string> args = {"list-backup", "primary"};
    if (!sort.empty()) {
      args.insert(args.begin(), {"-s", sort});
    }
    CliResult r = cli(args, "raw");
    EXPECT_EQ(r.exit_code(), 0) << r.describe();
    if (!r.json || !(*r.json)["Response"].contains("Backups")) {
      ADD_FAILURE() << "list-backup: " << r.describe();
      return nullptr;
    }
    return (*r.json)["Response"]["Backups"];
  }

  std::vector<std::string> listed_labels(const nlohmann::json& backups, bool valid_only) {
    std::vector<std::string> labels;
    if (backups.is_array()) {
      for (const nlohmann::json& b : backups) {
        if (!valid_only || b.value("Valid", false)) {
          labels.push_back(b.value("Backup", ""));
        }
      }
    }
    return labels;
  }

  // Waits for the daemon to reap `pid` after a SIGKILL (its log says so; the repository lock
  // is released in the same main-loop step, before any later request is served).
  void wait_reaped(int pid) {
    std::string needle = "child " + std::to_string(pid) + " (backup) was killed by signal 9";
    ASSERT_TRUE(daemon().wait_for_log(needle, seconds(15))) << "no '" << needle << "' in the log";
  }

  std::string out_path(const std::string& name) const { return daemon_const().dir() / name; }
};

// ---- 1. every compression, with and without AES ----

// One daemon, reloaded with each format in turn (compression and encryption are live keys):
// starting a daemon per format would double the run time. Each backup is deleted after its
// check, so every one is the first of its repository (nothing linked: BACKUP = stored bytes).
TEST_F(BackupTest, EveryFormatDecodesToTheManifestChecksums) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::optional<crypto::MasterKey> key = master_key();
  ASSERT_TRUE(key.has_value());
  struct Format {
    std::string compression;
    std::string encryption;
  };
  const std::vector<Format> formats = {
      {"none", "none"},         {"none", "aes-256-gcm"}, {"gzip", "none"},
      {"gzip", "aes-256-gcm"},  {"lz4", "none"},         {"lz4", "aes-256-gcm"},
      {"zstd", "none"},         {"zstd", "aes-256-gcm"}, {"bzip2", "none"},
      {"bzip2", "aes-256-gcm"}, {"server-zstd", "none"}, {"server-zstd", "aes-256-gcm"}};
  for (const Format& f : formats) {
    SCOPED_TRACE("compression " + f.compression + ", encryption " + f.encryption);
    ASSERT_NO_FATAL_FAILURE(reload_with([&](IniConfig& c) {
      c.set("pgmoneta", "compression", f.compression);
      c.set("pgmoneta", "encryption", f.encryption);
    }));
    bool encrypted = f.encryption != "none";
    auto algorithm = compress::parse_algorithm(
        f.compression.rfind("server-", 0) == 0 ? f.compression.substr(7) : f.compression);
    ASSERT_TRUE(algorithm.has_value()) << f.compression;
    std::string suffix = std::string(compress::file_suffix(*algorithm)) + (encrypted ? ".aes" : "");

    auto started = steady_clock::now();
    std::string label = take_backup();
    ASSERT_FALSE(label.empty());
    double elapsed = std::chrono::duration<double>(steady_clock::now() - started).count();
    std::string dir = root() + "/" + label;

    auto verify_started = steady_clock::now();
    VerifyResult v = verify_backup(dir, suffix, encrypted ? &*key : nullptr);
    double verify_elapsed =
        std::chrono::duration<double>(steady_clock::now() - verify_started).count();
    EXPECT_TRUE(v.problems.empty()) << v.problems.size() << " problem(s) in " << dir << ":\n"
                                    << v.summary();
    EXPECT_GT(v.files, 900u) << "a pgbench cluster has about a thousand files";
    EXPECT_GT(v.postgres_compared, v.files / 2);
    std::map<std::string, std::string> info = read_info_file(dir);
    EXPECT_EQ(info["STATUS"], "1");
    EXPECT_EQ(info["LABEL"], label);
    EXPECT_EQ(info["ENCRYPTION"], encrypted ? "1" : "0");
    EXPECT_EQ(info["TABLESPACES"], "1");
    EXPECT_EQ(info["BACKUP"], std::to_string(v.stored_bytes));
    if (*algorithm != compress::Algorithm::kNone) {
      EXPECT_LT(v.stored_bytes, v.plain_bytes / 2);
    }
    nlohmann::json backups = list_backups();
    ASSERT_TRUE(backups.is_array() && backups.size() == 1) << backups.dump(2);
    EXPECT_EQ(backups[0].value("Backup", ""), label);
    EXPECT_EQ(backups[0].value("Valid", false), true);
    EXPECT_EQ(backups[0].value("RestoreSize", uint64_t{0}), v.plain_bytes);
    EXPECT_EQ(backups[0].value("BackupSize", uint64_t{0}), v.stored_bytes);
    std::cout << "[   INFO   ] " << f.compression << "/" << f.encryption << ": " << v.files
              << " files (" << v.postgres_compared << " also in PostgreSQL's manifest), "
              << v.plain_bytes << " bytes plain, " << v.stored_bytes << " stored, backup took "
              << elapsed << " s, the check " << verify_elapsed << " s\n";
    CliResult del = cli({"delete", "primary", label}, "raw");
    ASSERT_EQ(del.exit_code(), 0) << del.describe();
  }
}

// ---- 2. kill -9 of the backup child ----

TEST_F(BackupTest, KilledBackupLeavesNothingValidAndTheNextSucceeds) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  expect_log_errors({"(backup) was killed by signal 9"});
  int daemon_pid = daemon().pid();

  struct Stage {
    std::string name;
    uint64_t max_rate;  // bytes/s, 0 = unlimited
    // Polled every millisecond with the new backup's directory ("" until it exists); true: kill.
    std::function<bool(const std::string& dir)> kill_when;
  };
  std::vector<Stage> stages = {
      {"right after the request", 0, [](const std::string&) { return true; }},
      {"while streaming", 1 << 20,
       [this](const std::string& dir) {
         if (dir.empty()) {
           return false;
         }
         CliResult p = cli({"progress", "primary", "backup"}, "raw");
         return p.json && (*p.json)["Response"].value("Phase", "") == "streaming" &&
                (*p.json)["Response"].value("Done", uint64_t{0}) > (2u << 20);
       }},
      {"finishing: backup.manifest written", 0,
       [](const std::string& dir) {
         return !dir.empty() && path_exists(dir + "/backup.manifest");
       }},
      {"finishing: provisional backup.info (STATUS=0) written", 0,
       [](const std::string& dir) { return !dir.empty() && path_exists(dir + "/backup.info"); }},
  };
  uint64_t current_rate = 0;
  int hit = 0;
  for (const Stage& stage : stages) {
    SCOPED_TRACE(stage.name);
    if (stage.max_rate != current_rate) {
      ASSERT_NO_FATAL_FAILURE(reload_with(
          [&](IniConfig& c) { c.set("pgmoneta", "max_rate", std::to_string(stage.max_rate)); }));
      current_rate = stage.max_rate;
    }
    std::set<std::string> before;
    for (const std::string& n : root_entries(root())) {
      before.insert(n);
    }
    Process client = start_cli(daemon(), {"backup", "primary"}, out_path("kill.out"));
    ASSERT_GT(client.pid(), 0) << client.error();
    int child = 0;
    std::string dir;
    bool killed = false;
    auto deadline = steady_clock::now() + seconds(60);
    while (steady_clock::now() < deadline) {
      std::vector<int> children = backup_children(daemon_pid);
      if (child == 0 && !children.empty()) {
        child = children.front();
      }
      if (child != 0 && dir.empty()) {
        for (const std::string& n : root_entries(root())) {
          if (!before.contains(n) && backup::is_label(n)) {
            dir = root() + "/" + n;
          }
        }
      }
      if (child != 0 && stage.kill_when(dir)) {
        killed = ::kill(child, SIGKILL) == 0;
        break;
      }
      if (child != 0 && (children.empty() || children.front() != child)) {
        break;  // the backup ended before the kill point
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
    ASSERT_NE(child, 0) << "no backup child appeared";
    std::optional<int> status = client.wait_for(seconds(60));
    ASSERT_TRUE(status.has_value()) << "the CLI did not return";
    if (!killed) {
      // Too late: the backup completed (possible for the narrow finishing points).
      std::cout << "[   INFO   ] " << stage.name << ": the backup finished before the kill point; "
                << "not hit this time\n";
      EXPECT_EQ(*status, 0) << read_text(out_path("kill.out"));
      CliResult del = cli({"delete", "primary", "newest"});
      EXPECT_EQ(del.exit_code(), 0) << del.describe();
      continue;
    }
    ++hit;
    bool had_info = !dir.empty() && path_exists(dir + "/backup.info");
    std::cout << "[   INFO   ] killed backup child " << child << " " << stage.name
              << (dir.empty() ? " (no backup directory yet)" : " in " + dir)
              << (had_info ? " (backup.info present)" : "") << "\n";
    EXPECT_NE(*status, 0) << "the killed request's CLI exited 0: "
                          << read_text(out_path("kill.out"));
    ASSERT_NO_FATAL_FAILURE(wait_reaped(child));
    nlohmann::json listed = list_backups();
    EXPECT_TRUE(listed_labels(listed, true).empty()) << listed.dump(2);
    // The next backup succeeds, is valid, and the killed one's leftovers are gone.
    if (current_rate != 0) {
      ASSERT_NO_FATAL_FAILURE(
          reload_with([](IniConfig& c) { c.set("pgmoneta", "max_rate", "0"); }));
      current_rate = 0;
    }
    std::string label = take_backup();
    ASSERT_FALSE(label.empty());
    listed = list_backups();
    EXPECT_EQ(listed_labels(listed, false), std::vector<std::string>{label}) << listed.dump(2);
    EXPECT_EQ(listed_labels(listed, true), std::vector<std::string>{label}) << listed.dump(2);
    EXPECT_EQ(root_entries(root()), std::vector<std::string>{label})
        << "leftovers of the killed backup in " << root();
    // Start the next stage from an empty repository (no previous backup to link with).
    CliResult del = cli({"delete", "primary", label});
    EXPECT_EQ(del.exit_code(), 0) << del.describe();
  }
  EXPECT_GE(hit, 2) << "fewer than two kill points were hit";

  // Finally one complete backup, fully verifiable.
  std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  VerifyResult v = verify_backup(root() + "/" + label, ".zstd", nullptr);
  EXPECT_TRUE(v.problems.empty()) << v.summary();
}

// ---- 3. a second backup while one runs ----

TEST_F(BackupTest, SecondConcurrentBackupFailsAtOnceWith102) {
  daemon().config().set("pgmoneta", "max_rate", std::to_string(2u << 20));
  ASSERT_NO_FATAL_FAILURE(start_online());
  expect_log_errors({"(backup) was killed by signal 9"});
  Process first = start_cli(daemon(), {"backup", "primary"}, out_path("first.out"));
  ASSERT_GT(first.pid(), 0) << first.error();
  // Wait until the first one streams (it holds the repository lock from the start).
  auto deadline = steady_clock::now() + seconds(30);
  std::string state;
  while (steady_clock::now() < deadline && state != "streaming") {
    CliResult p = cli({"progress", "primary", "backup"}, "raw");
    state = p.json ? (*p.json)["Response"].value("Phase", "") : "";
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_EQ(state, "streaming");
  std::vector<int> children = backup_children(daemon().pid());
  ASSERT_EQ(children.size(), 1u);
  int first_child = children[0];

  auto started = steady_clock::now();
  CliResult second = cli({"backup", "primary"}, "raw");
  double took = std::chrono::duration<double>(steady_clock::now() - started).count();
  EXPECT_NE(second.exit_code(), 0) << second.describe();
  ASSERT_TRUE(second.json.has_value()) << second.describe();
  EXPECT_EQ((*second.json)["Outcome"].value("Status", true), false) << second.json->dump(2);
  EXPECT_EQ((*second.json)["Outcome"].value("Error", 0), 102) << second.json->dump(2);
  EXPECT_TRUE(first.running()) << "the first backup was not running any more when the second "
                                  "returned";
  EXPECT_EQ(::kill(first_child, 0), 0) << "the first backup's child is gone";
  std::cout << "[   INFO   ] the second request failed after " << took << " s\n";

  // Don't wait for the slowed first backup: kill it.
  ASSERT_EQ(::kill(first_child, SIGKILL), 0);
  EXPECT_TRUE(first.wait_for(seconds(30)).has_value());
  ASSERT_NO_FATAL_FAILURE(wait_reaped(first_child));
  nlohmann::json listed = list_backups();
  EXPECT_TRUE(listed_labels(listed, true).empty()) << listed.dump(2);
}

// ---- 4. retention and WAL pruning ----

TEST_F(BackupTest, RetentionDeletesExactlyTheExpiredUnretainedBackupsAndPrunesWal) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  std::string wal_dir = daemon_wal_dir(daemon());
  std::string suffix = expected_suffix(compress::Algorithm::kZstd, crypto::AesMode::kNone);
  // Older WAL: a few switched segments before the first backup, each stored by the receiver.
  std::vector<std::string> switched;
  for (int i = 0; i < 4; ++i) {
    std::string error;
    std::string segment = switch_wal(*pg(), &error);
    ASSERT_FALSE(segment.empty()) << error;
    std::string err = wait_for_settled_segment(wal_dir, segment, suffix, seconds(60));
    ASSERT_EQ(err, "") << err;
    switched.push_back(segment);
  }
  std::string b1 = take_backup();
  ASSERT_FALSE(b1.empty());
  std::string b2 = take_backup();
  ASSERT_FALSE(b2.empty());

  // Fabricated older backups (copies of b1 under older labels, with older WAL= segments):
  //   60 days, retained, WAL = switched[1]  -> stays (keep); the oldest valid one left
  //   45 days,           WAL = switched[0]  -> deleted (older than 7 days)
  //   30 days,           WAL = switched[2]  -> deleted
  //    2 days,           WAL = switched[3]  -> stays (younger than 7 days)
  auto now = std::chrono::system_clock::now();
  auto days_ago = [&](int d) { return backup::make_label(now - std::chrono::hours(24 * d)); };
  std::string old60 = days_ago(60);
  std::string old45 = days_ago(45);
  std::string old30 = days_ago(30);
  std::string recent2 = days_ago(2);
  for (const auto& [label, wal] : {std::pair{old60, switched[1]},
                                   {old45, switched[0]},
                                   {old30, switched[2]},
                                   {recent2, switched[3]}}) {
    std::string err = fabricate_backup(root() + "/" + b1, root(), label, wal);
    ASSERT_EQ(err, "") << err;
  }
  // The fabricated copies are sound backups (backup.sha512 updated).
  CommandOutput sum =
      run_in(root() + "/" + old30, {"/usr/bin/sha512sum", "--quiet", "-c", "backup.sha512"});
  EXPECT_EQ(sum.exit_code, 0) << sum.describe();
  CliResult retain = cli({"retain", "primary", old60}, "raw");
  ASSERT_EQ(retain.exit_code(), 0) << retain.describe();
  nlohmann::json listed = list_backups();
  ASSERT_EQ(listed_labels(listed, true),
            (std::vector<std::string>{old60, old45, old30, recent2, b1, b2}))
      << listed.dump(2);

  std::vector<std::string> wal_before = list_dir(wal_dir);
  ASSERT_NO_FATAL_FAILURE(reload_with([](IniConfig& c) {
    c.set("pgmoneta", "retention", "7");
    c.set("pgmoneta", "retention_interval", "1");
  }));

  std::vector<std::string> want = {old60, recent2, b1, b2};
  auto oldest_needed = wal::parse_segment_name(switched[1], wal::kDefaultSegmentSize);
  ASSERT_TRUE(oldest_needed.has_value());
  std::string complaint;
  auto deadline = steady_clock::now() + seconds(30);
  while (true) {
    complaint.clear();
    listed = list_backups();
    if (listed_labels(listed, false) != want) {
      complaint = "listed: " + join(listed_labels(listed, false));
    } else {
      for (const std::string& name : list_dir(wal_dir)) {
        wal::WalFileInfo info = wal::classify_wal_file(name);
        if (info.kind != wal::WalFileKind::kSegment) {
          continue;
        }
        auto id = wal::parse_segment_name(info.base, wal::kDefaultSegmentSize);
        if (id && id->segno < oldest_needed->segno) {
          complaint += " " + name + " not pruned;";
        }
      }
    }
    if (complaint.empty() || steady_clock::now() >= deadline) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(250));
  }
  EXPECT_EQ(complaint, "") << "30 s after retention = 7, retention_interval = 1";
  EXPECT_EQ(root_entries(root()), want);
  // Everything from the oldest remaining backup's segment on is still there.
  std::vector<std::string> wal_after = list_dir(wal_dir);
  std::set<std::string> after(wal_after.begin(), wal_after.end());
  size_t kept = 0;
  for (const std::string& name : wal_before) {
    wal::WalFileInfo info = wal::classify_wal_file(name);
    if (info.kind != wal::WalFileKind::kSegment) {
      continue;
    }
    auto id = wal::parse_segment_name(info.base, wal::kDefaultSegmentSize);
    if (id && id->segno >= oldest_needed->segno) {
      EXPECT_TRUE(after.contains(name)) << name << " (needed by " << old60 << ") was pruned";
      ++kept;
    }
  }
  EXPECT_GE(kept, 3u);
  EXPECT_TRUE(after.contains(switched[1] + suffix)) << join(wal_after);
  EXPECT_FALSE(after.contains(switched[0] + suffix)) << join(wal_after);
  std::cout << "[   INFO   ] WAL before: " << join(wal_before)
            << "\n[   INFO   ] WAL after: " << join(wal_after) << "\n";
  // The retained one is still marked so.
  CliResult info = cli({"info", "primary", old60}, "raw");
  ASSERT_TRUE(info.json.has_value()) << info.describe();
  EXPECT_EQ((*info.json)["Response"].value("Keep", false), true) << info.json->dump(2);
}

// ---- 5. linking: the second of two identical backups stores almost nothing ----

TEST_F(BackupTest, SecondBackupWithoutWritesSharesItsFilesWithTheFirst) {
  // zstd. Each backup has ~0.7 MB of its own whatever the data: PostgreSQL's backup_manifest,
  // backup.manifest, backup.sha512, directories, pg_control and its WAL segment (with
  // wal_recycle = off, set up for the suite, a fresh zero-filled segment that compresses to
  // ~1 kB; with compression none it would be 16 MiB, which only a database of several hundred
  // MiB would dwarf). pgbench data compresses ~15x, so 16 MiB of incompressible data (for this
  // test only) make the first backup ~21 MB stored and the 5 % bound meaningful.
  ASSERT_NO_FATAL_FAILURE(start_online());
  struct DropTable {
    ~DropTable() { pg()->psql("DROP TABLE IF EXISTS link_random"); }
  } drop;
  for (const char* sql :
       {"CREATE TABLE link_random AS SELECT g, (SELECT string_agg(decode(md5(random()::text || "
        "i::text), 'hex'), ''::bytea) FROM generate_series(1, 512) i WHERE g > 0) AS b FROM "
        "generate_series(1, 2048) g",
        "VACUUM (FREEZE)", "CHECKPOINT"}) {
    CommandOutput r = pg()->psql(sql);
    ASSERT_EQ(r.exit_code, 0) << sql << ": " << r.describe();
  }
  std::string first = take_backup();
  ASSERT_FALSE(first.empty());
  std::string second = take_backup();
  ASSERT_FALSE(second.empty());
  std::string error;
  std::vector<uint64_t> sizes = du_bytes({root() + "/" + first, root() + "/" + second}, &error);
  ASSERT_EQ(sizes.size(), 2u) << error;
  std::cout << "[   INFO   ] du -sb: first " << sizes[0] << " bytes, second " << sizes[1]
            << " bytes (" << (100.0 * static_cast<double>(sizes[1]) / static_cast<double>(sizes[0]))
            << " %)\n";
  std::string biggest;
  auto unshared = unshared_files(root() + "/" + second);
  for (size_t i = 0; i < unshared.size() && i < 8; ++i) {
    biggest += " " + unshared[i].second + " (" + std::to_string(unshared[i].first) + ")";
  }
  std::cout << "[   INFO   ] " << unshared.size()
            << " files of the second are its own; biggest:" << biggest << "\n";
  EXPECT_LT(sizes[1] * 20, sizes[0]) << "the second backup stores 5 % or more of the first";

  CliResult del = cli({"delete", "primary", first}, "raw");
  ASSERT_EQ(del.exit_code(), 0) << del.describe();
  EXPECT_FALSE(path_exists(root() + "/" + first));
  VerifyResult v = verify_backup(root() + "/" + second, ".zstd", nullptr);
  EXPECT_TRUE(v.problems.empty()) << v.summary();
  EXPECT_GT(v.files, 900u);
  nlohmann::json listed = list_backups();
  EXPECT_EQ(listed_labels(listed, true), std::vector<std::string>{second}) << listed.dump(2);
}

// ---- 6. catalog verbs ----

TEST_F(BackupTest, CatalogVerbsThroughTheCli) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  // Progress while nothing runs.
  CliResult p = cli({"progress", "primary", "backup"}, "raw");
  ASSERT_EQ(p.exit_code(), 0) << p.describe();
  EXPECT_EQ((*p.json)["Response"].value("ProgressState", -1), 0) << p.json->dump(2);
  EXPECT_EQ((*p.json)["Response"].value("Phase", ""), "idle") << p.json->dump(2);

  std::string b1 = take_backup();
  ASSERT_FALSE(b1.empty());
  std::string b2 = take_backup();
  ASSERT_FALSE(b2.empty());
  ASSERT_LT(b1, b2);

  EXPECT_EQ(listed_labels(list_backups(), false), (std::vector<std::string>{b1, b2}));
  EXPECT_EQ(listed_labels(list_backups("asc"), false), (std::vector<std::string>{b1, b2}));
  EXPECT_EQ(listed_labels(list_backups("desc"), false), (std::vector<std::string>{b2, b1}));

  for (const auto& [id, want] : {std::pair<std::string, std::string>{"newest", b2},
                                 {"latest", b2},
                                 {"oldest", b1},
                                 {b1, b1}}) {
    CliResult r = cli({"info", "primary", id}, "raw");
    ASSERT_EQ(r.exit_code(), 0) << id << ": " << r.describe();
    EXPECT_EQ((*r.json)["Response"].value("Backup", ""), want) << id;
    EXPECT_EQ((*r.json)["Response"].value("Valid", false), true) << id;
  }
  CliResult missing = cli({"info", "primary", "20000101000000"}, "raw");
  EXPECT_NE(missing.exit_code(), 0) << missing.describe();

  // annotate add / update / remove: backup.info's COMMENTS.
  std::string b1_dir = root() + "/" + b1;
  CliResult a = cli({"annotate", "primary", b1, "add", "owner", "alice"}, "raw");
  ASSERT_EQ(a.exit_code(), 0) << a.describe();
  EXPECT_EQ(read_info_file(b1_dir)["COMMENTS"], "owner|alice");
  a = cli({"annotate", "primary", b1, "add", "ticket", "T-1"}, "raw");
  ASSERT_EQ(a.exit_code(), 0) << a.describe();
  EXPECT_EQ(read_info_file(b1_dir)["COMMENTS"], "owner|alice,ticket|T-1");
  a = cli({"annotate", "primary", b1, "add", "owner", "bob"}, "raw");
  EXPECT_NE(a.exit_code(), 0) << "add of an existing key: " << a.describe();
  a = cli({"annotate", "primary", b1, "update", "owner", "bob"}, "raw");
  ASSERT_EQ(a.exit_code(), 0) << a.describe();
  EXPECT_EQ(read_info_file(b1_dir)["COMMENTS"], "owner|bob,ticket|T-1");
  a = cli({"annotate", "primary", b1, "remove", "owner"}, "raw");
  ASSERT_EQ(a.exit_code(), 0) << a.describe();
  EXPECT_EQ(read_info_file(b1_dir)["COMMENTS"], "ticket|T-1");
  CliResult i = cli({"info", "primary", b1}, "raw");
  ASSERT_TRUE(i.json.has_value()) << i.describe();
  EXPECT_NE(i.json->dump().find("T-1"), std::string::npos) << i.json->dump(2);
  // The edited backup.info still matches backup.sha512.
  CommandOutput sum = run_in(b1_dir, {"/usr/bin/sha512sum", "--quiet", "-c", "backup.sha512"});
  EXPECT_EQ(sum.exit_code, 0) << sum.describe();

  // retain: delete refused without --force, done with it.
  CliResult r = cli({"retain", "primary", b1}, "raw");
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  EXPECT_EQ(read_info_file(b1_dir)["KEEP"], "1");
  CliResult d = cli({"delete", "primary", b1}, "raw");
  EXPECT_NE(d.exit_code(), 0) << d.describe();
  ASSERT_TRUE(d.json.has_value()) << d.describe();
  EXPECT_EQ((*d.json)["Outcome"].value("Error", 0), 506) << "retained: " << d.json->dump(2);
  EXPECT_TRUE(path_exists(b1_dir));
  d = cli({"delete", "--force", "primary", b1}, "raw");
  EXPECT_EQ(d.exit_code(), 0) << d.describe();
  EXPECT_FALSE(path_exists(b1_dir));
  // The second backup linked against the first: still complete.
  VerifyResult v = verify_backup(root() + "/" + b2, ".zstd", nullptr);
  EXPECT_TRUE(v.problems.empty()) << v.summary();

  // expunge undoes retain.
  r = cli({"retain", "primary", b2}, "raw");
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  EXPECT_EQ(read_info_file(root() + "/" + b2)["KEEP"], "1");
  r = cli({"expunge", "primary", b2}, "raw");
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  EXPECT_EQ(read_info_file(root() + "/" + b2)["KEEP"], "0");
  d = cli({"delete", "primary", b2}, "raw");
  EXPECT_EQ(d.exit_code(), 0) << d.describe();
  EXPECT_EQ(root_entries(root()), std::vector<std::string>{});

  // progress = off: zeros, as pgmoneta answers, and Tracking false to say why.
  ASSERT_NO_FATAL_FAILURE(reload_with([](IniConfig& c) { c.set("pgmoneta", "progress", "off"); }));
  p = cli({"progress", "primary", "backup"}, "raw");
  EXPECT_EQ(p.exit_code(), 0) << p.describe();
  ASSERT_TRUE(p.json.has_value()) << p.describe();
  const auto& off = (*p.json)["Response"];
  EXPECT_EQ(off.value("Tracking", true), false) << p.json->dump(2);
  EXPECT_EQ(off.value("ProgressState", -1), 0) << p.json->dump(2);
  EXPECT_EQ(off.value("Done", -1), 0) << p.json->dump(2);
  EXPECT_EQ(off.value("Phase", ""), "off") << p.json->dump(2);
}

}  // namespace
}  // namespace pgm::testing
