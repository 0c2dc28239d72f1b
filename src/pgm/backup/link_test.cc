#include "pgm/backup/link.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "support/bytes.h"
#include "support/temp_dir.h"
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "pgm/backup/info.h"
#include "pgm/crypto/digest.h"
#include "pgm/io/file.h"

namespace pgm::backup {
namespace {

namespace fs = std::filesystem;

class LinkTest : public ::testing::Test {
 protected:
  void write(const std::string& path, std::string_view data) {
    ASSERT_TRUE(io::make_directories(io::parent_directory(path), 0700));
    ASSERT_TRUE(io::write_file_atomic(path, data, 0600));
  }

  // A backup with files {path -> plain content}; stored content is prefixed by `stored_tag`
  // (stand-in for compression output) and named with the suffix of `compression`.
  std::string make_backup(const std::string& label,
                          const std::vector<std::pair<std::string, std::string>>& files,
                          uint8_t compression = 0x12, const std::string& stored_tag = "z:") {
    std::string dir = tmp_ + "/backup/" + label;
    BackupInfo info;
    info.label = label;
    info.valid = true;
    info.compression = compression;
    write(dir + "/backup.info", format_backup_info(info));
    std::vector<ManifestEntry> manifest;
    std::string sha512;
    for (const auto& [path, content] : files) {
      manifest.push_back({path, test_support::sha512_hex(content)});
      std::string name = stored_name(path, compression, 0);
      std::string stored = path == "backup_label" ? std::string() : stored_tag;
      stored += content;
      std::string file = dir;
      file += "/data/";
      file += name;
      write(file, stored);
      std::string stored_path = "data/";
      stored_path += name;
      sha512 += format_sha512_line({stored_path, test_support::sha512_hex(stored)});
    }
    write(dir + "/backup.manifest", *format_manifest(manifest));
    write(dir + "/backup.sha512", sha512);
    return dir;
  }

  static struct stat lstat_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st;
  }

  test_support::TempDir tmp_dir_{"pgm-link"};
  std::string tmp_ = tmp_dir_.path();
};

TEST(StoredNameTest, SuffixesFollowCompressionAndEncryption) {
  EXPECT_EQ(stored_suffix(0, 0), "");
  EXPECT_EQ(stored_suffix(0x12, 0), ".zstd");
  EXPECT_EQ(stored_suffix(0x11, 1), ".gz.aes");
  EXPECT_EQ(stored_suffix(0x23, 0), ".lz4");
  EXPECT_EQ(stored_suffix(0x14, 3), ".bz2.aes");
  EXPECT_EQ(stored_suffix(6, 0), ".zstd");  // legacy server zstd
  EXPECT_EQ(stored_name("base/1/1259", 0x12, 1), "base/1/1259.zstd.aes");
  EXPECT_EQ(stored_name("backup_label", 0x12, 1), "backup_label");
  EXPECT_EQ(stored_name("backup_manifest", 0x12, 1), "backup_manifest");
}

TEST_F(LinkTest, IdenticalFilesBecomeHardlinksChangedOnesStay) {
  std::string a = make_backup("20260101000000", {{"base/1/1", "one"},
                                                 {"base/1/2", "two"},
                                                 {"backup_label", "label A"},
                                                 {"global/3", "three"}});
  std::string b = make_backup("20260102000000", {{"base/1/1", "one"},
                                                 {"base/1/2", "TWO changed"},
                                                 {"backup_label", "label A"},
                                                 {"base/1/4", "new"}});
  auto r = link_unchanged(a, b);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->files_linked, 2u);  // base/1/1 and backup_label
  EXPECT_EQ(r->symlinks, 0u);
  EXPECT_EQ(r->bytes_saved, std::string("z:one").size() + std::string("label A").size());
  EXPECT_EQ(r->linked, (std::vector<std::string>{"data/backup_label", "data/base/1/1.zstd"}));

  auto sa = lstat_of(a + "/data/base/1/1.zstd");
  auto sb = lstat_of(b + "/data/base/1/1.zstd");
  EXPECT_EQ(sa.st_ino, sb.st_ino);
  EXPECT_EQ(sb.st_nlink, 2u);
  EXPECT_EQ(lstat_of(b + "/data/backup_label").st_ino, lstat_of(a + "/data/backup_label").st_ino);
  EXPECT_NE(lstat_of(b + "/data/base/1/2.zstd").st_ino, lstat_of(a + "/data/base/1/2.zstd").st_ino);
  EXPECT_EQ(*io::read_file(b + "/data/base/1/2.zstd"), "z:TWO changed");
  EXPECT_FALSE(fs::exists(b + "/data/base/1/1.zstd.link.tmp"));

  // Bytes this backup alone holds: the changed and the new file only.
  EXPECT_EQ(stored_bytes(b), std::string("z:TWO changed").size() + std::string("z:new").size() +
                                 fs::file_size(b + "/backup.info") +
                                 fs::file_size(b + "/backup.manifest") +
                                 fs::file_size(b + "/backup.sha512"));
  EXPECT_GT(apparent_bytes(b), stored_bytes(b));

  // A second run links nothing more.
  auto again = link_unchanged(a, b);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->files_linked, 0u);
}

TEST_F(LinkTest, Sha512IsRefreshedWhenStoredBytesDiffer) {
  // Same plain content, different stored bytes (another compression level, an AES IV).
  std::string a = make_backup("20260101000000", {{"base/1/1", "one"}}, 0x12, "level1:");
  std::string b = make_backup("20260102000000", {{"base/1/1", "one"}}, 0x12, "level9:");
  auto r = link_unchanged(a, b);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->files_linked, 1u);
  auto entries = parse_sha512_file(*io::read_file(b + "/backup.sha512"));
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].hex, test_support::sha512_hex("level1:one"));
  EXPECT_TRUE(test_support::sha512sum_passes(b));
}

TEST_F(LinkTest, DifferentCompressionLinksNothing) {
  std::string a = make_backup("20260101000000", {{"base/1/1", "one"}}, 0x12);
  std::string b = make_backup("20260102000000", {{"base/1/1", "one"}}, 0x11);
  auto r = link_unchanged(a, b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->files_linked, 0u);
  EXPECT_EQ(lstat_of(b + "/data/base/1/1.gz").st_nlink, 1u);
}

TEST_F(LinkTest, FollowsSymlinkOfPreviousBackupAndSkipsMissingFiles) {
  std::string a = make_backup("20260101000000", {{"base/1/1", "one"}});
  std::string b = make_backup("20260102000000", {{"base/1/1", "one"}, {"base/1/9", "gone"}});
  // b holds base/1/1 as a pgmoneta-style absolute symlink into a; base/1/9 vanished from b.
  ASSERT_EQ(::unlink((b + "/data/base/1/1.zstd").c_str()), 0);
  ASSERT_EQ(::symlink((a + "/data/base/1/1.zstd").c_str(), (b + "/data/base/1/1.zstd").c_str()), 0);
  ASSERT_EQ(::unlink((b + "/data/base/1/9.zstd").c_str()), 0);
  std::string c = make_backup("20260103000000", {{"base/1/1", "one"}, {"base/1/9", "gone"}});
  auto r = link_unchanged(b, c);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->files_linked, 1u);
  EXPECT_EQ(lstat_of(c + "/data/base/1/1.zstd").st_ino, lstat_of(a + "/data/base/1/1.zstd").st_ino);
  EXPECT_EQ(*io::read_file(c + "/data/base/1/9.zstd"), "z:gone");
}

TEST_F(LinkTest, MissingManifestIsAnError) {
  std::string a = make_backup("20260101000000", {{"base/1/1", "one"}});
  std::string b = make_backup("20260102000000", {{"base/1/1", "one"}});
  ASSERT_EQ(::unlink((a + "/backup.manifest").c_str()), 0);
  auto r = link_unchanged(a, b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("backup.manifest"), std::string::npos);
}

TEST_F(LinkTest, RelativeSymlinkHelperSurvivesMovingTheTree) {
  write(tmp_ + "/base/srv/backup/A/data/f", "payload");
  ASSERT_TRUE(io::make_directories(tmp_ + "/base/srv/backup/B/data", 0700));
  write(tmp_ + "/base/srv/backup/B/data/f", "old");
  ASSERT_TRUE(internal::replace_with_relative_symlink(tmp_ + "/base/srv/backup/A/data/f",
                                                      tmp_ + "/base/srv/backup/B/data/f"));
  EXPECT_EQ(fs::read_symlink(tmp_ + "/base/srv/backup/B/data/f").string(), "../../A/data/f");
  fs::rename(tmp_ + "/base", tmp_ + "/moved");
  EXPECT_EQ(*io::read_file(tmp_ + "/moved/srv/backup/B/data/f"), "payload");
}

}  // namespace
}  // namespace pgm::backup
