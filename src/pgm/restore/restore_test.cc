#include "pgm/restore/restore.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "pgm/compress/codec.h"
#include "pgm/io/file.h"
#include "pgm/restore/leftovers.h"
#include "pgm/restore/stored_backup_fixture.h"
#include "pgm/wal/segment.h"

namespace pgm::restore {
namespace {

namespace fs = std::filesystem;
using test_support::content;
using test_support::kZstd;
using test_support::kZstdAes;

constexpr uint64_t kSegment = 16u << 20;

class RestoreEngineTest : public test_support::StoredBackupTest {
 protected:
  RestoreOptions options() {
    RestoreOptions o;
    o.backup_dir = dir_;
    o.info = info_;
    o.target_dir = tmp_ + "/out/primary-" + info_.label;
    o.key = &key_;
    o.workers = 2;
    o.wal_dir = tmp_ + "/wal";
    o.wal_segment_size = kSegment;
    return o;
  }

  static std::string read(const std::string& path) {
    auto text = io::read_file(path);
    return text ? *text : std::string("<unreadable>");
  }

  // The plaintext the fixture stored for `path` (its seed is its position in the list).
  static std::string original(const std::string& path) {
    const auto& files = stored_files();
    for (size_t i = 0; i < files.size(); ++i) {
      if (files[i].first == path) {
        return content(files[i].second, static_cast<int>(i) + 1);
      }
    }
    return "";
  }

  void write_wal(const std::string& name, const std::string& bytes) {
    fs::create_directories(tmp_ + "/wal");
    std::ofstream(tmp_ + "/wal/" + name, std::ios::binary) << bytes;
  }
};

TEST_F(RestoreEngineTest, RestoresEveryFileWithModesAndPgControl) {
  for (const auto& format : {kZstd, kZstdAes}) {
    SCOPED_TRACE(format.name);
    fs::remove_all(tmp_ + "/out");
    fs::remove_all(dir_);
    ASSERT_NO_FATAL_FAILURE(build(format));
    RestoreOptions o = options();
    std::string configured_with_control;
    o.configure = [&](const std::string& dir) -> Result<void> {
      configured_with_control = fs::exists(dir + "/global/pg_control") ? "yes" : "no";
      return {};
    };
    auto r = run_restore(o);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->files, 7u);
    EXPECT_EQ(r->bytes, info_.restore_size);
    EXPECT_EQ(configured_with_control, "no") << "pg_control must come after the settings";
    for (const char* path : {"PG_VERSION", "backup_label", "base/1/1259", "base/1/1249",
                             "base/1/2619", "global/pg_control"}) {
      EXPECT_EQ(read(o.target_dir + "/" + path), original(path)) << path;
      struct stat st {};
      ASSERT_EQ(::stat((o.target_dir + "/" + path).c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
    }
    struct stat st {};
    ASSERT_EQ(::stat(o.target_dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    EXPECT_FALSE(fs::exists(o.target_dir + "/global/pg_control.pgmoneta.tmp"));
  }
}

TEST_F(RestoreEngineTest, ChecksumMismatchFailsAndRemovesEverything) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  // A valid zstd stream of other bytes: only the SHA-512 can tell.
  auto other = compress::compress(
      compress::Algorithm::kZstd,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("other bytes"), 11));
  ASSERT_TRUE(other.has_value());
  std::ofstream(stored("base/1/1249"), std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(other->data()),
             static_cast<std::streamsize>(other->size()));
  RestoreOptions o = options();
  // With backup.sha512 the stored bytes are checked; without it (older pgmoneta) the
  // plaintext against backup.manifest.
  for (const char* against : {"backup.sha512", "backup.manifest"}) {
    SCOPED_TRACE(against);
    auto r = run_restore(o);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message().find("base/1/1249"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find(std::string("does not match ") + against), std::string::npos)
        << r.error().message();
    EXPECT_FALSE(fs::exists(o.target_dir));
    fs::remove(dir_ + "/backup.sha512");
  }
}

TEST_F(RestoreEngineTest, ANonEmptyTargetIsNeverTouched) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  RestoreOptions o = options();
  fs::create_directories(o.target_dir);
  std::ofstream(o.target_dir + "/precious") << "keep me";
  auto r = run_restore(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("not empty"), std::string::npos) << r.error().message();
  EXPECT_EQ(read(o.target_dir + "/precious"), "keep me");
}

// A restore killed with -9 leaves its mark (".pgmoneta-restore", pid=<n>): a re-run clears what
// that dead process wrote, its tablespace directory too, and restores; the mark of a live
// process, or a directory without one, is never touched. A finished restore leaves no mark.
TEST_F(RestoreEngineTest, ARestoreKilledMidwayIsClearedByTheNextOne) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  RestoreOptions o = options();
  fs::create_directories(o.target_dir + "/base/1");
  std::ofstream(o.target_dir + "/base/1/1259") << "half written";
  fs::create_directories(o.target_dir + "-tblspc_ts1/PG_15");
  std::ofstream(o.target_dir + "/" + kRestoreMarker) << "pid=" << ::getpid() << "\n";
  auto alive = run_restore(o);
  ASSERT_FALSE(alive.has_value());
  EXPECT_NE(alive.error().message().find("not empty"), std::string::npos);
  EXPECT_EQ(read(o.target_dir + "/base/1/1259"), "half written");

  std::ofstream(o.target_dir + "/" + kRestoreMarker) << "pid=99999999\n";
  auto r = run_restore(o);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(read(o.target_dir + "/base/1/1259"), original("base/1/1259"));
  EXPECT_FALSE(fs::exists(o.target_dir + "-tblspc_ts1"));
  EXPECT_FALSE(fs::exists(o.target_dir + "/" + kRestoreMarker));
  EXPECT_TRUE(fs::exists(o.target_dir + "/global/pg_control"));
}

TEST_F(RestoreEngineTest, AnEmptyExistingTargetIsUsedAndKeptOnFailure) {
  ASSERT_NO_FATAL_FAILURE(build(kZstdAes));
  RestoreOptions o = options();
  fs::create_directories(o.target_dir);
  crypto::MasterKey wrong;
  wrong.bytes.assign(crypto::kMasterKeyLength, 0x11);
  o.key = &wrong;
  auto r = run_restore(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("wrong key or damaged file"), std::string::npos)
      << r.error().message();
  ASSERT_TRUE(fs::exists(o.target_dir));
  EXPECT_TRUE(fs::is_empty(o.target_dir));
}

TEST_F(RestoreEngineTest, WalIsPlacedDecodedAndThePartialOnlyWhenItReachesTheBackupEnd) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  info_.wal = "000000010000000000000002";
  info_.start_timeline = 1;
  info_.end_lsn = 2 * kSegment + 100;  // the backup ends 100 bytes into segment 2
  std::string seg2(kSegment, 'b');
  auto seg2_zstd = compress::compress(
      compress::Algorithm::kZstd,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(seg2.data()), seg2.size()), 1);
  ASSERT_TRUE(seg2_zstd.has_value());
  write_wal("000000010000000000000001", std::string(kSegment, 'a'));  // before the backup
  write_wal("000000010000000000000002.zstd",
            std::string(reinterpret_cast<const char*>(seg2_zstd->data()), seg2_zstd->size()));
  std::string partial(kSegment, '\0');
  partial.replace(0, 5000, std::string(5000, 'c'));
  write_wal("000000010000000000000003.partial", partial);
  write_wal("00000002.history", "1\t0/3000000\tno recovery target specified\n");
  write_wal("garbage.tmp", "x");

  RestoreOptions o = options();
  o.info = info_;
  o.copy_wal = true;
  auto r = run_restore(o);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->wal_files, 3u);
  std::string pg_wal = o.target_dir + "/pg_wal/";
  EXPECT_FALSE(fs::exists(pg_wal + "000000010000000000000001"));
  EXPECT_EQ(read(pg_wal + "000000010000000000000002"), seg2) << "decoded, replacing the backup's";
  EXPECT_EQ(read(pg_wal + "000000010000000000000003"), partial);
  EXPECT_TRUE(fs::exists(pg_wal + "00000002.history"));
  EXPECT_FALSE(fs::exists(pg_wal + "000000010000000000000003.partial"));

  // A .partial of the backup's end segment that never got that far keeps the backup's copy.
  fs::remove_all(tmp_ + "/out");
  fs::remove_all(tmp_ + "/wal");
  write_wal("000000010000000000000002.partial", std::string(kSegment, '\0'));
  r = run_restore(o);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(read(pg_wal + "000000010000000000000002"), original("pg_wal/000000010000000000000002"));
}

TEST_F(RestoreEngineTest, NotEnoughSpaceFailsBeforeWriting) {
  ASSERT_NO_FATAL_FAILURE(build(kZstd));
  RestoreOptions o = options();
  o.info.restore_size = uint64_t{1} << 60;  // no file system has an exabyte free
  auto r = run_restore(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("not enough free space"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp_ + "/out"));
}

}  // namespace
}  // namespace pgm::restore
