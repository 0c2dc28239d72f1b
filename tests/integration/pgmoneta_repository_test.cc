// Our daemon on a repository pgmoneta 0.22 wrote (../shared/fixtures/pgmoneta-0.22, see its
// README.md): every backup is listed, described, verified and restored, and PostgreSQL 15
// starts on each restored copy with the data the fixture recorded for it (backups.txt).
//
// The repository is copied into the daemon's base_dir with pgmoneta's modes (0700/0600; the
// fixture's own copy lost them), under pgmoneta's master key. Its second zstd backup holds
// pgmoneta's dedup links: absolute symbolic links into the backup before it (the fixture
// stores each as a file holding the link's target; they are made links again here, pointing
// into the copy); git also dropped their empty directories, made again here. The server
// `primary` points at no PostgreSQL: the repository alone is used, so nothing else streams
// WAL into it, and the daemon learns the 1 MB WAL segment size from the backups themselves.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"
#include "integration/wal_helpers.h"
#include <sys/stat.h>

#include "pgm/compress/codec.h"
#include "pgm/crypto/digest.h"

namespace pgm::testing {
namespace {

namespace fs = std::filesystem;

#ifndef PGM_SHARED_FIXTURES
#define PGM_SHARED_FIXTURES ""
#endif

const std::string kFixture = std::string(PGM_SHARED_FIXTURES) + "/pgmoneta-0.22";

// The README's fingerprint of pgbench_accounts, in database bench.
constexpr const char* kFingerprintSql =
    "SELECT count(*)||':'||sum(abalance)||':'||md5(string_agg(aid::text||abalance::text, ',' "
    "ORDER BY aid)) FROM pgbench_accounts";

struct FixtureBackup {
  std::string label;
  std::string compression;
  std::string encryption;
  std::string fingerprint;
};

// backups.txt: "label compression encryption fingerprint" after a header line.
std::vector<FixtureBackup> read_backups_txt(const std::string& path) {
  std::vector<FixtureBackup> out;
  std::istringstream in(read_text(path));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    FixtureBackup b;
    if (fields >> b.label >> b.compression >> b.encryption >> b.fingerprint) {
      out.push_back(std::move(b));
    }
  }
  return out;
}

// pgmoneta's modes, owned by `uid` (the daemon's user).
void set_owner_and_modes(const fs::path& root, uid_t uid, gid_t gid) {
  auto fix = [&](const fs::path& p) {
    struct stat st {};
    ASSERT_EQ(::lstat(p.c_str(), &st), 0) << p;
    ASSERT_EQ(::lchown(p.c_str(), uid, gid), 0) << p;
    if (!S_ISLNK(st.st_mode)) {
      ASSERT_EQ(::chmod(p.c_str(), S_ISDIR(st.st_mode) ? 0700 : 0600), 0) << p;
    }
  };
  fix(root);
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    fix(e.path());
  }
}

class PgmonetaRepositoryTest : public DaemonTest {
 protected:
  bool auto_start() const override { return false; }

  void configure(IniConfig& c) override {
    // No PostgreSQL behind `primary`: this repository belongs to another cluster.
    c.set("primary", "host", daemon().dir() / "no-server");
    c.set("primary", "port", "5432");
    c.set("pgmoneta", "compression", "zstd");
    c.set("pgmoneta", "workers", "2");
  }

  std::string backup_root() { return daemon().dir() / "base/primary/backup"; }

  // Copies the fixture's repository and master key in, then starts the daemon.
  void install_fixture() {
    const std::string base = daemon().dir() / "base";
    fs::copy(kFixture + "/base_dir/primary", base + "/primary", fs::copy_options::recursive);
    ASSERT_NO_FATAL_FAILURE(make_dedup_links());
    // Git keeps no empty directory: PostgreSQL's empty ones, which pgmoneta's backups had, are
    // made again.
    for (const auto& backup : fs::directory_iterator(backup_root())) {
      for (const char* dir :
           {"pg_commit_ts", "pg_dynshmem", "pg_logical/mappings", "pg_logical/snapshots",
            "pg_multixact/members", "pg_multixact/offsets", "pg_notify", "pg_replslot", "pg_serial",
            "pg_snapshots", "pg_stat", "pg_stat_tmp", "pg_subtrans", "pg_tblspc", "pg_twophase",
            "pg_wal/archive_status", "pg_xact"}) {
        fs::create_directories(backup.path() / "data" / dir);
      }
    }
    struct stat owner {};
    ASSERT_EQ(::stat(daemon().dir().path().c_str(), &owner), 0);
    ASSERT_NO_FATAL_FAILURE(set_owner_and_modes(base + "/primary", owner.st_uid, owner.st_gid));

    // pgmoneta's master key; the vaults are made again under it.
    const std::string key = daemon().home() + "/.pgmoneta/master.key";
    fs::copy_file(kFixture + "/master.key", key, fs::copy_options::overwrite_existing);
    ASSERT_EQ(::chown(key.c_str(), owner.st_uid, owner.st_gid), 0);
    ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
    fs::remove(daemon().users_path());
    fs::remove(daemon().admins_path());
    CommandOutput r = daemon().admin(
        {"-f", daemon().users_path(), "-U", PostgresInstance::kReplUser, "user", "add"},
        PostgresInstance::kReplPassword);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    r = daemon().admin(
        {"-f", daemon().admins_path(), "-U", DaemonInstance::kAdminUser, "user", "add"},
        DaemonInstance::kAdminPassword);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    for (const std::string& path : {daemon().users_path(), daemon().admins_path()}) {
      ASSERT_EQ(::chown(path.c_str(), owner.st_uid, owner.st_gid), 0);
    }
    ASSERT_NO_FATAL_FAILURE(start_daemon());
  }

  // pgmoneta links a file unchanged since the previous backup as an absolute symbolic link to
  // the previous backup's stored file, under its base_dir /srv/pgmoneta-fixture/backup. The
  // fixture holds each link as a small file whose text is the link's target: it becomes a link
  // again, onto the same file in this copy.
  void make_dedup_links() {
    const std::string kPgmonetaRoot = "/srv/pgmoneta-fixture/backup/primary/backup/";
    std::map<std::string, int> links;  // per backup
    std::vector<fs::path> candidates;
    for (const auto& e : fs::recursive_directory_iterator(backup_root())) {
      if (e.is_regular_file() && e.file_size() < 4096) {
        candidates.push_back(e.path());
      }
    }
    for (const fs::path& p : candidates) {
      std::string text = read_text(p);
      if (!text.starts_with(kPgmonetaRoot) || text.find('\n') != std::string::npos) {
        continue;
      }
      fs::path target = fs::path(backup_root()) / text.substr(kPgmonetaRoot.size());
      ASSERT_TRUE(fs::is_regular_file(target)) << p << " -> " << text;
      fs::remove(p);
      fs::create_symlink(target, p);
      ++links[p.lexically_relative(backup_root()).begin()->string()];
    }
    for (const auto& [label, n] : links) {
      std::cout << "[   INFO   ] " << label << ": " << n << " pgmoneta links\n";
    }
    // README: the second zstd backup shares 1,254 files with the first.
    EXPECT_EQ(links["20261207010546"], 1254);
  }

  // Restores `label` at `position` ("" = none) into a fresh directory, starts PostgreSQL 15 on
  // it and returns the fingerprint ("" after a failure, reported).
  std::string restore_and_fingerprint(const std::string& label, const std::string& position) {
    const std::string parent = daemon().dir().make_dir("restore-" + std::to_string(++restores_));
    std::vector<std::string> args = {"restore", "primary", label};
    if (!position.empty()) {
      args.push_back(position);
    }
    args.push_back(parent);
    auto started = std::chrono::steady_clock::now();
    CliResult r = cli(args, "raw");
    EXPECT_EQ(r.exit_code(), 0) << r.describe() << tail(daemon().log());
    if (r.exit_code() != 0) {
      return "";
    }
    const std::string dir = parent + "/primary-" + label;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      std::string name = e.path().filename().string();
      for (const char* suffix : {".zstd", ".gz", ".lz4", ".bz2", ".aes"}) {
        EXPECT_FALSE(name.ends_with(suffix)) << e.path();
      }
    }
    TempDir root("pgm-it-copy");
    PostgresInstance copy(root.path(), 15);
    std::string error = copy.start_restored(dir);
    EXPECT_TRUE(error.empty()) << label << ": PostgreSQL did not start: " << error << "\n"
                               << tail(copy.log());
    if (!error.empty()) {
      return "";
    }
    if (!position.empty()) {
      // Recovery to a target ends with a promotion: the data is final once it is done.
      std::string in_recovery;
      for (int i = 0; i < 300 && in_recovery != "f"; ++i) {
        in_recovery = sql_value(copy, "SELECT pg_is_in_recovery()");
        if (in_recovery != "f") {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      }
      EXPECT_EQ(in_recovery, "f") << tail(copy.log());
    }
    CommandOutput f = copy.psql(kFingerprintSql, "postgres", "bench");
    EXPECT_EQ(f.exit_code, 0) << f.describe() << tail(copy.log());
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cout << "[   INFO   ] " << label << (position.empty() ? "" : " " + position)
              << ": restored and started in " << seconds << " s\n";
    copy.stop();
    fs::remove_all(parent);
    std::string out = f.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
      out.pop_back();
    }
    return out;
  }

  int restores_ = 0;
};

TEST_F(PgmonetaRepositoryTest, EveryBackupIsListedVerifiedAndRestored) {
  if (!fs::exists(kFixture + "/base_dir")) {
    GTEST_SKIP() << "no pgmoneta 0.22 fixture at " << kFixture
                 << " (it lives in ../shared/fixtures beside the source tree)";
  }
  ASSERT_NO_FATAL_FAILURE(install_fixture());
  std::vector<FixtureBackup> expected = read_backups_txt(kFixture + "/backups.txt");
  // The last row's backup was deleted by pgmoneta before the copy (README).
  std::erase_if(expected,
                [&](const FixtureBackup& b) { return !fs::exists(backup_root() + "/" + b.label); });
  ASSERT_EQ(expected.size(), 8u);

  CliResult list = cli({"list-backup", "primary"}, "raw");
  ASSERT_EQ(list.exit_code(), 0) << list.describe();
  ASSERT_TRUE(list.json && (*list.json)["Response"].contains("Backups")) << list.describe();
  std::map<std::string, nlohmann::json> listed;
  for (const nlohmann::json& b : (*list.json)["Response"]["Backups"]) {
    listed[b.value("Backup", "")] = b;
  }

  for (const FixtureBackup& b : expected) {
    SCOPED_TRACE(b.label + " (" + b.compression + ", " + b.encryption + ")");
    ASSERT_TRUE(listed.contains(b.label)) << list.describe();
    EXPECT_TRUE(listed[b.label].value("Valid", false)) << listed[b.label].dump();

    CliResult info = cli({"info", "primary", b.label}, "raw");
    ASSERT_EQ(info.exit_code(), 0) << info.describe();

    CliResult verify =
        cli({"verify", "primary", b.label, daemon().dir() / "verify-work", "all"}, "json");
    EXPECT_EQ(verify.exit_code(), 0) << verify.describe() << tail(daemon().log());
    const nlohmann::json* failed = verify.json ? find_key(*verify.json, "Failed") : nullptr;
    EXPECT_TRUE(failed == nullptr || failed->empty()) << failed->dump(2);

    EXPECT_EQ(restore_and_fingerprint(b.label, ""), b.fingerprint);
  }

  // The file verb on one of pgmoneta's lz4 files (the daemon decompresses it in place): the
  // plaintext is what backup.manifest lists.
  {
    const std::string lz4_backup = backup_root() + "/20261207010451";
    const std::string dir = daemon().dir().make_dir("verbs");
    const std::string file = dir + "/postgresql.conf";
    fs::copy_file(lz4_backup + "/data/postgresql.conf.lz4", file + ".lz4");
    chown_to_test_user(file + ".lz4");
    CliResult r = cli({"decompress", file + ".lz4"}, "raw");
    ASSERT_EQ(r.exit_code(), 0) << r.describe();
    auto sha = crypto::Sha512::create();
    ASSERT_TRUE(sha.has_value());
    sha->update(read_text(file));
    const std::string line = "\npostgresql.conf," + crypto::Sha512::hex(sha->final()) + "\n";
    EXPECT_NE(("\n" + read_text(lz4_backup + "/backup.manifest")).find(line), std::string::npos)
        << line;
  }

  // Replaying the repository's WAL (mixed suffixes: .gz.aes, .lz4.aes, .bz2.aes, .zstd.aes,
  // .zstd, .gz) with 1 MB segments. `current` on the newest backup replays to the end of the
  // WAL: the data of the last row, whose backup pgmoneta deleted (nothing wrote after it).
  const FixtureBackup& newest = expected.back();
  const std::string last = read_backups_txt(kFixture + "/backups.txt").back().fingerprint;
  EXPECT_EQ(restore_and_fingerprint(newest.label, "current"), last);
  // The oldest backup to the start of the newest one (before the newest backup's end), across
  // every WAL format in between: the newest backup's data.
  auto start = read_text(backup_root() + "/" + newest.label + "/backup.info");
  size_t at = start.find("START_WALPOS=");
  ASSERT_NE(at, std::string::npos);
  std::string lsn = start.substr(at + 13, start.find('\n', at) - at - 13);
  EXPECT_EQ(restore_and_fingerprint(expected.front().label, "lsn=" + lsn + ",action=promote"),
            newest.fingerprint);
}

// Our lz4 writer against pgmoneta's own lz4 files: every file of the fixture's lz4 backup, read
// with our reader and written again at level 1 (liblz4's fast mode, which pgmoneta uses), gives
// the bytes pgmoneta stored. The WAL segment pgmoneta keeps in the backup is the exception: it
// compresses that one with its file compressor, whose two input buffers are back to back, so
// its blocks may differ in their encoding (never in what they decode to).
TEST(PgmonetaLz4FilesTest, OurWriterMakesPgmonetasBytes) {
  const std::string backup = kFixture + "/base_dir/primary/backup/20261207010451";
  if (!fs::exists(backup)) {
    GTEST_SKIP() << "no pgmoneta 0.22 fixture at " << kFixture;
  }
  size_t same = 0;
  for (const auto& entry : fs::recursive_directory_iterator(backup)) {
    const std::string path = entry.path().string();
    if (!entry.is_regular_file() || !path.ends_with(".lz4")) {
      continue;
    }
    std::string stored = read_text(path);
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(stored.data()), stored.size());
    auto plain = compress::decompress(compress::Algorithm::kLz4, bytes, size_t{1} << 30);
    ASSERT_TRUE(plain.has_value()) << path << ": " << plain.error().message();
    auto again = compress::compress(compress::Algorithm::kLz4, *plain, 1);
    ASSERT_TRUE(again.has_value()) << again.error().message();
    if (path.find("/data/pg_wal/") != std::string::npos) {
      continue;
    }
    EXPECT_TRUE(std::equal(again->begin(), again->end(), bytes.begin(), bytes.end())) << path;
    ++same;
  }
  EXPECT_GT(same, 1000u);
}

}  // namespace
}  // namespace pgm::testing
