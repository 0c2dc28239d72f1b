#include "pgm/restore/verify.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pgm/backup/info.h"
#include "pgm/backup/store.h"
#include "pgm/crypto/digest.h"
#include "pgm/io/file.h"
#include "pgm/restore/stored_backup_fixture.h"

namespace pgm::restore {
namespace {

namespace fs = std::filesystem;

using test_support::Format;
using test_support::kZstd;
using test_support::kZstdAes;

class VerifyTest : public test_support::StoredBackupTest {
 protected:
  Result<VerifyReport> run(int workers = 1, bool all = false,
                           const crypto::MasterKey* key = nullptr) {
    VerifyOptions o;
    o.backup_dir = dir_;
    o.info = info_;
    o.key = key != nullptr ? key : &key_;
    o.workers = workers;
    o.keep_all = all;
    return verify_backup(o);
  }

  // The report must hold exactly one failure, for `path`, whose problem contains `problem`.
  void expect_single_failure(const std::string& path, const std::string& problem) {
    for (int workers : {1, 3}) {
      auto r = run(workers);
      ASSERT_TRUE(r.has_value()) << r.error().message();
      EXPECT_FALSE(r->ok());
      ASSERT_EQ(r->failed.size(), 1u) << "workers " << workers;
      EXPECT_EQ(r->failed[0].path, path);
      EXPECT_NE(r->failed[0].problem.find(problem), std::string::npos)
          << r->failed[0].problem << " does not say " << problem;
    }
  }
};

TEST_F(VerifyTest, CleanBackupIsOk) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  uint64_t last_done = 0;
  uint64_t last_total = 0;
  VerifyOptions o;
  o.backup_dir = dir_;
  o.info = info_;
  o.workers = 2;
  o.keep_all = true;
  o.on_progress = [&](uint64_t done, uint64_t total) {
    last_done = done;
    last_total = total;
  };
  auto r = verify_backup(o);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(r->ok()) << r->failed[0].path << ": " << r->failed[0].problem;
  EXPECT_EQ(r->files, 7u);
  EXPECT_EQ(r->bytes, info_.restore_size);
  // 7 data files plus backup.manifest and backup.info from backup.sha512.
  ASSERT_EQ(r->all.size(), 9u);
  for (const VerifyFile& v : r->all) {
    EXPECT_EQ(v.expected, v.calculated) << v.path;
    EXPECT_TRUE(v.problem.empty()) << v.path;
  }
  EXPECT_EQ(last_done, info_.restore_size);
  EXPECT_EQ(last_total, info_.restore_size);
}

TEST_F(VerifyTest, CleanEncryptedBackupIsOk) {
  ASSERT_NO_FATAL_FAILURE(build(kZstdAes));
  auto r = run(3);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->files, 7u);
}

TEST_F(VerifyTest, FlippedByteIsReported) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  std::string path = stored("base/1/1259");
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(fs::file_size(path) / 2));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(fs::file_size(path) / 2));
  f.put(static_cast<char>(c ^ 0x40));
  f.close();
  // A decoding error or a checksum mismatch, depending on where the byte lands: either way
  // the file is named.
  auto r = run(1);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->failed.size(), 1u);
  EXPECT_EQ(r->failed[0].path, "base/1/1259");
  EXPECT_FALSE(r->failed[0].problem.empty());
}

TEST_F(VerifyTest, FlippedByteInPlainFileIsAChecksumMismatch) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  std::string path = dir_ + "/data/backup_label";
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(10);
  f.put('#');
  f.close();
  ASSERT_NO_FATAL_FAILURE(expect_single_failure("backup_label", kProblemMismatch));
  auto r = run(1);
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->failed[0].calculated, r->failed[0].expected);
  EXPECT_EQ(r->failed[0].calculated.size(), 128u);
}

TEST_F(VerifyTest, TruncatedFileIsReported) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  std::string path = stored("base/1/2619");
  fs::resize_file(path, fs::file_size(path) / 2);
  ASSERT_NO_FATAL_FAILURE(expect_single_failure("base/1/2619", "1/2619"));
}

TEST_F(VerifyTest, DeletedFileIsMissing) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  fs::remove(stored("global/pg_control"));
  ASSERT_NO_FATAL_FAILURE(expect_single_failure("global/pg_control", kProblemMissing));
  auto r = run(1);
  EXPECT_EQ(r->failed[0].expected.size(), 128u);
}

TEST_F(VerifyTest, ExtraFileIsReported) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  ASSERT_TRUE(io::write_file_atomic(dir_ + "/data/base/1/99999.zstd", "junk", 0600));
  ASSERT_NO_FATAL_FAILURE(expect_single_failure("base/1/99999.zstd", kProblemExtra));
}

// pgmoneta's backup.manifest lists neither data/backup_manifest nor the WAL segment under
// data/pg_wal; backup.sha512 has both (their stored bytes).
class PgmonetaLayoutTest : public VerifyTest {
 protected:
  static constexpr const char* kSegment = "pg_wal/000000010000000000000002";

  static std::string sha512_hex(const std::string& text) {
    auto h = crypto::Sha512::create();
    h->update(text);
    return crypto::Sha512::hex(h->final());
  }

  // Rewrites the backup as pgmoneta lays it out; `sha512_lines` false leaves out the two
  // files' backup.sha512 lines too.
  void make_pgmoneta_layout(bool sha512_lines) {
    auto manifest = io::read_file(dir_ + "/backup.manifest");
    ASSERT_TRUE(manifest.has_value());
    auto entries = backup::parse_manifest(*manifest);
    ASSERT_TRUE(entries.has_value());
    std::erase_if(*entries, [](const backup::ManifestEntry& e) { return e.path == kSegment; });
    auto text = backup::format_manifest(*entries);
    ASSERT_TRUE(text.has_value());
    ASSERT_TRUE(io::write_file_atomic(dir_ + "/backup.manifest", *text, 0600));
    const std::string pg_manifest = "{ \"PostgreSQL-Backup-Manifest-Version\": 1 }\n";
    ASSERT_TRUE(io::write_file_atomic(dir_ + "/data/backup_manifest", pg_manifest, 0600));

    auto sums = io::read_file(dir_ + "/backup.sha512");
    ASSERT_TRUE(sums.has_value());
    auto lines = backup::parse_sha512_file(*sums);
    ASSERT_TRUE(lines.has_value());
    std::string out;
    for (backup::Sha512Entry& e : *lines) {
      if (e.path == "backup.manifest") {
        e.hex = sha512_hex(*text);
      }
      if (!sha512_lines && e.path == std::string("data/") + kSegment + ".zstd") {
        continue;
      }
      out += backup::format_sha512_line(e);
    }
    if (sha512_lines) {
      out += backup::format_sha512_line({"data/backup_manifest", sha512_hex(pg_manifest)});
    }
    ASSERT_TRUE(io::write_file_atomic(dir_ + "/backup.sha512", out, 0600));
  }
};

TEST_F(PgmonetaLayoutTest, UnlistedManifestAndSegmentAreCheckedByBackupSha512) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  ASSERT_NO_FATAL_FAILURE(make_pgmoneta_layout(true));
  auto r = run(2, true);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(r->ok()) << r->failed.front().path << ": " << r->failed.front().problem;
  int seen = 0;
  for (const VerifyFile& v : r->all) {
    if (v.path == kSegment || v.path == "backup_manifest") {
      ++seen;
      EXPECT_EQ(v.expected, v.calculated) << v.path;
    }
  }
  EXPECT_EQ(seen, 2);

  // Damage to either is named.
  ASSERT_TRUE(io::write_file_atomic(dir_ + "/data/backup_manifest", "{}\n", 0600));
  ASSERT_NO_FATAL_FAILURE(expect_single_failure("backup_manifest", kProblemMismatch));
}

TEST_F(PgmonetaLayoutTest, UnlistedFilesWithoutABackupSha512LineAreExtra) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  ASSERT_NO_FATAL_FAILURE(make_pgmoneta_layout(false));
  auto r = run(1);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_EQ(r->failed.size(), 2u);
  for (const VerifyFile& v : r->failed) {
    EXPECT_EQ(v.problem, kProblemExtra) << v.path;
  }
  // Only a segment name under pg_wal is taken as pgmoneta's WAL file: anything else is extra.
  ASSERT_TRUE(
      io::write_file_atomic(dir_ + "/data/pg_wal/00000001000000000000000X.zstd", "x", 0600));
  r = run(1);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->failed.size(), 3u);
}

TEST_F(VerifyTest, WrongKeyIsReportedForEveryEncryptedFile) {
  ASSERT_NO_FATAL_FAILURE(build(kZstdAes));
  crypto::MasterKey wrong;
  wrong.bytes.assign(crypto::kMasterKeyLength, 0x33);
  auto r = run(2, false, &wrong);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  // backup_label is stored plain; the 6 others fail to decrypt.
  EXPECT_EQ(r->failed.size(), 6u);
  for (const VerifyFile& v : r->failed) {
    EXPECT_NE(v.path, "backup_label");
    EXPECT_NE(v.problem, kProblemMismatch) << v.path;
    EXPECT_TRUE(v.calculated.empty()) << v.path;
  }
}

TEST_F(VerifyTest, TamperedBackupInfoIsReported) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  std::string text = backup::format_backup_info(info_) + "X=1\n";
  ASSERT_TRUE(io::write_file_atomic(dir_ + "/backup.info", text, 0600));
  ASSERT_NO_FATAL_FAILURE(expect_single_failure("backup.info", kProblemMismatch));
}

TEST_F(VerifyTest, EncryptedWithoutKeyIsAnError) {
  ASSERT_NO_FATAL_FAILURE(build(kZstdAes));
  VerifyOptions o;
  o.backup_dir = dir_;
  o.info = info_;
  auto r = verify_backup(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kConfig);
}

TEST_F(VerifyTest, NoManifestIsAnError) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  fs::remove(dir_ + "/backup.manifest");
  auto r = run(1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
}

TEST_F(VerifyTest, OneAndThreeWorkersGiveTheSameReport) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  fs::resize_file(stored("base/1/1259"), 100);
  fs::remove(stored("PG_VERSION"));
  ASSERT_TRUE(io::write_file_atomic(dir_ + "/data/extra", "x", 0600));
  auto one = run(1, true);
  auto three = run(3, true);
  ASSERT_TRUE(one.has_value() && three.has_value());
  ASSERT_EQ(one->failed.size(), 3u);
  ASSERT_EQ(one->failed.size(), three->failed.size());
  ASSERT_EQ(one->all.size(), three->all.size());
  for (size_t i = 0; i < one->all.size(); ++i) {
    EXPECT_EQ(one->all[i].path, three->all[i].path);
    EXPECT_EQ(one->all[i].problem, three->all[i].problem);
    EXPECT_EQ(one->all[i].calculated, three->all[i].calculated);
  }
  EXPECT_EQ(one->files, three->files);
  EXPECT_EQ(one->bytes, three->bytes);
}

}  // namespace
}  // namespace pgm::restore
