#include "pgm/backup/repository.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "support/bytes.h"
#include "support/temp_dir.h"
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "pgm/backup/link.h"
#include "pgm/backup/sample_info_test.h"
#include "pgm/crypto/digest.h"
#include "pgm/io/file.h"

namespace pgm::backup {
namespace {

namespace fs = std::filesystem;

class RepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = tmp_ + "/base";
    root_ = backup_root(base_, "primary");
  }

  static void write(const std::string& path, std::string_view data) {
    ASSERT_TRUE(io::make_directories(io::parent_directory(path), 0700));
    ASSERT_TRUE(io::write_file_atomic(path, data, 0600));
  }

  static BackupInfo info_for(const std::string& label, bool valid = true) {
    return sample_info(label, valid);
  }

  // A complete backup: info, manifest, sha512 and data files stored with ".zstd".
  std::string make_backup(const std::string& label,
                          const std::vector<std::pair<std::string, std::string>>& files,
                          bool valid = true) {
    std::string dir = root_ + "/" + label;
    BackupInfo info = info_for(label, valid);
    std::string info_text = format_backup_info(info);
    write(dir + "/backup.info", info_text);
    std::vector<ManifestEntry> manifest;
    std::string sha512 = format_sha512_line({"backup.info", test_support::sha512_hex(info_text)});
    for (const auto& [path, content] : files) {
      manifest.push_back({path, test_support::sha512_hex(content)});
      std::string stored = "z:" + content;
      std::string name = path;
      name += ".zstd";
      std::string file = dir;
      file += "/data/";
      file += name;
      write(file, stored);
      sha512 += format_sha512_line({"data/" + name, test_support::sha512_hex(stored)});
    }
    std::string manifest_text = *format_manifest(manifest);
    write(dir + "/backup.manifest", manifest_text);
    sha512 += format_sha512_line({"backup.manifest", test_support::sha512_hex(manifest_text)});
    write(dir + "/backup.sha512", sha512);
    return dir;
  }

  std::vector<std::string> labels() {
    auto list = list_backups(root_);
    EXPECT_TRUE(list);
    std::vector<std::string> out;
    for (const BackupEntry& e : *list) {
      out.push_back(e.label);
    }
    return out;
  }

  test_support::TempDir tmp_dir_{"pgm-repo"};
  std::string tmp_ = tmp_dir_.path();
  std::string base_;
  std::string root_;
};

TEST_F(RepositoryTest, MissingRootIsAnEmptyList) {
  auto list = list_backups(root_);
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
  EXPECT_EQ(root_, base_ + "/primary/backup");
}

TEST_F(RepositoryTest, ListsValidInvalidCorruptAndMissingInfoIgnoringJunk) {
  make_backup("20260103000000", {{"base/1/1", "x"}});
  make_backup("20260101000000", {{"base/1/1", "x"}}, /*valid=*/false);
  ASSERT_TRUE(io::make_directories(root_ + "/20260102000000/data", 0700));  // no backup.info
  write(root_ + "/20260104000000/backup.info", "PGMONETA_VERSION=0.1\nSTATUS=1\nLABEL\n");
  ASSERT_TRUE(io::make_directories(root_ + "/20260105000000.tmp", 0700));
  ASSERT_TRUE(io::make_directories(root_ + "/tmp-backup", 0700));
  ASSERT_TRUE(io::make_directories(root_ + "/.delete-20251231000000", 0700));
  ASSERT_TRUE(io::make_directories(root_ + "/20261341000000", 0700));  // not a date
  write(root_ + "/20260106000000", "a file, not a backup");

  auto list = list_backups(root_);
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 4u);
  EXPECT_EQ((*list)[0].label, "20260101000000");
  EXPECT_TRUE((*list)[0].info.has_value());
  EXPECT_FALSE((*list)[0].valid());
  EXPECT_EQ((*list)[1].label, "20260102000000");
  EXPECT_FALSE((*list)[1].info.has_value());
  EXPECT_EQ((*list)[1].problem, "backup.info: missing");
  EXPECT_TRUE((*list)[2].valid());
  EXPECT_EQ((*list)[2].dir, root_ + "/20260103000000");
  EXPECT_FALSE((*list)[3].valid());
  EXPECT_EQ((*list)[3].problem.rfind("backup.info: line 3", 0), 0u) << (*list)[3].problem;

  sort_backups(*list, SortOrder::kDescending);
  EXPECT_EQ(list->front().label, "20260104000000");
  sort_backups(*list, SortOrder::kAscending);
  EXPECT_EQ(list->front().label, "20260101000000");
  EXPECT_EQ(parse_sort_order("desc"), SortOrder::kDescending);
  EXPECT_EQ(parse_sort_order("asc"), SortOrder::kAscending);
  EXPECT_FALSE(parse_sort_order("up"));
}

TEST_F(RepositoryTest, ResolvesIdentifiersAmongValidBackups) {
  make_backup("20260101000000", {}, /*valid=*/false);
  make_backup("20260102000000", {});
  make_backup("20260103000000", {});
  make_backup("20260104000000", {}, /*valid=*/false);
  auto list = *list_backups(root_);
  EXPECT_EQ((*resolve_backup(list, "oldest"))->label, "20260102000000");
  EXPECT_EQ((*resolve_backup(list, "newest"))->label, "20260103000000");
  EXPECT_EQ((*resolve_backup(list, "latest"))->label, "20260103000000");
  EXPECT_EQ((*resolve_backup(list, "20260104000000"))->label, "20260104000000");

  auto missing = resolve_backup(list, "20250101000000", "primary");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "no backup 20250101000000 for server primary");

  auto bad = resolve_backup(list, "yesterday");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);

  std::vector<BackupEntry> invalid_only(list.begin(), list.begin() + 1);
  auto none = resolve_backup(invalid_only, "newest", "primary");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(none.error().message(), "no valid backup for server primary (1 backups, none valid)");
  auto empty = resolve_backup({}, "oldest", "primary");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message(), "no backups for server primary");
}

TEST_F(RepositoryTest, InfoRewriteIsAtomicAndUpdatesSha512Line) {
  std::string dir = make_backup("20260101000000", {{"base/1/1", "x"}, {"global/2", "y"}});
  auto info = read_backup_info(dir);
  ASSERT_TRUE(info);
  info->comments = "owner|alice";
  ASSERT_TRUE(write_backup_info(dir, *info));
  EXPECT_EQ(*read_backup_info(dir), *info);
  auto entries = parse_sha512_file(*io::read_file(dir + "/backup.sha512"));
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_EQ((*entries)[0].path, "backup.info");
  EXPECT_EQ((*entries)[0].hex, test_support::sha512_hex(*io::read_file(dir + "/backup.info")));
  auto names = io::list_directory(dir);
  ASSERT_TRUE(names);
  for (const auto& name : *names) {
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
  }
  EXPECT_TRUE(test_support::sha512sum_passes(dir));
}

TEST_F(RepositoryTest, InfoRewriteWithoutSha512LeavesItAbsentAndCorruptSha512Fails) {
  std::string dir = root_ + "/20260101000000";
  ASSERT_TRUE(io::make_directories(dir, 0700));
  ASSERT_TRUE(write_backup_info(dir, info_for("20260101000000")));
  EXPECT_FALSE(fs::exists(dir + "/backup.sha512"));

  write(dir + "/backup.sha512", "not a sha line\n");
  BackupInfo changed = info_for("20260101000000");
  changed.keep = true;
  auto r = write_backup_info(dir, changed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
  EXPECT_FALSE(read_backup_info(dir)->keep);  // untouched
}

TEST_F(RepositoryTest, RetainAndAnnotate) {
  make_backup("20260101000000", {});
  auto kept = set_keep(root_, "20260101000000", true);
  ASSERT_TRUE(kept);
  EXPECT_TRUE(kept->keep);
  EXPECT_TRUE(read_backup_info(root_ + "/20260101000000")->keep);
  ASSERT_TRUE(set_keep(root_, "20260101000000", false));
  EXPECT_FALSE(read_backup_info(root_ + "/20260101000000")->keep);

  auto nf = set_keep(root_, "20250101000000", true);
  ASSERT_FALSE(nf);
  EXPECT_EQ(nf.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(nf.error().message().find("backup 20250101000000"), std::string::npos);

  const std::string l = "20260101000000";
  ASSERT_TRUE(annotate(root_, l, AnnotateAction::kAdd, "owner", "alice"));
  auto dup = annotate(root_, l, AnnotateAction::kAdd, "owner", "bob");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(dup.error().message(), "comment key 'owner' already exists on backup " + l);
  auto upd = annotate(root_, l, AnnotateAction::kUpdate, "owner", "bob");
  ASSERT_TRUE(upd);
  EXPECT_EQ(upd->comments, "owner|bob");
  auto missing = annotate(root_, l, AnnotateAction::kUpdate, "ticket", "1");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "no comment key 'ticket' on backup " + l);
  auto bad = annotate(root_, l, AnnotateAction::kAdd, "a|b", "1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(annotate(root_, l, AnnotateAction::kRemove, "owner", ""));
  EXPECT_EQ(read_backup_info(root_ + "/" + l)->comments, "");
  auto gone = annotate(root_, l, AnnotateAction::kRemove, "owner", "");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(parse_annotate_action("update"), AnnotateAction::kUpdate);
  EXPECT_FALSE(parse_annotate_action("append"));
  EXPECT_TRUE(test_support::sha512sum_passes(root_ + "/" + l));
}

TEST_F(RepositoryTest, DeleteRefusesRetainedUnlessForcedAndParents) {
  make_backup("20260101000000", {{"base/1/1", "x"}});
  ASSERT_TRUE(set_keep(root_, "20260101000000", true));
  auto r = delete_backup(root_, "20260101000000", false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message(), "backup 20260101000000 is retained; use --force");
  EXPECT_TRUE(fs::exists(root_ + "/20260101000000/backup.info"));

  std::string child = make_backup("20260102000000", {});
  BackupInfo ci = *read_backup_info(child);
  ci.type = BackupType::kIncremental;
  ci.parent = "20260101000000";
  ASSERT_TRUE(write_backup_info(child, ci));
  auto p = delete_backup(root_, "20260101000000", true);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), ErrorCode::kUnavailable);

  ASSERT_TRUE(delete_backup(root_, "20260102000000", false));
  auto forced = delete_backup(root_, "20260101000000", true);
  ASSERT_TRUE(forced) << forced.error().message();
  EXPECT_TRUE(labels().empty());
  EXPECT_EQ(delete_backup(root_, "20260101000000", true).error().code(), ErrorCode::kNotFound);
}

TEST_F(RepositoryTest, DeleteFirstOfThreeHardlinkedBackupsKeepsOthersReadable) {
  std::vector<std::pair<std::string, std::string>> files = {
      {"base/1/1", "one"}, {"base/1/2", "two"}, {"global/3", "three"}};
  std::string a = make_backup("20260101000000", files);
  std::string b = make_backup("20260102000000", files);
  std::string c = make_backup("20260103000000", files);
  ASSERT_TRUE(link_unchanged(a, b));
  ASSERT_TRUE(link_unchanged(b, c));
  EXPECT_EQ(fs::hard_link_count(c + "/data/base/1/1.zstd"), 3u);

  auto r = delete_backup(root_, "20260101000000", false);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->files_moved, 0u);
  // Shared data frees nothing; only a's own metadata files go.
  EXPECT_EQ(r->bytes_freed, fs::file_size(b + "/backup.info") +
                                fs::file_size(b + "/backup.manifest") +
                                fs::file_size(b + "/backup.sha512"));
  EXPECT_EQ(labels(), (std::vector<std::string>{"20260102000000", "20260103000000"}));
  EXPECT_EQ(*io::read_file(b + "/data/base/1/1.zstd"), "z:one");
  EXPECT_EQ(*io::read_file(c + "/data/global/3.zstd"), "z:three");
  EXPECT_EQ(fs::hard_link_count(c + "/data/base/1/1.zstd"), 2u);
  EXPECT_TRUE(test_support::sha512sum_passes(b));
  EXPECT_TRUE(test_support::sha512sum_passes(c));
}

// A repository as pgmoneta builds it (absolute symlinks) or as a symlink-only filesystem
// makes it (relative symlinks): b and c link into a, c also into b.
class SymlinkRepositoryTest : public RepositoryTest,
                              public ::testing::WithParamInterface<bool /*absolute*/> {
 protected:
  void link_to(const std::string& target, const std::string& link) {
    ASSERT_EQ(::unlink(link.c_str()), 0) << link;
    std::string t = target;
    if (!GetParam()) {
      t = fs::path(target).lexically_relative(fs::path(link).parent_path()).string();
    }
    ASSERT_EQ(::symlink(t.c_str(), link.c_str()), 0);
  }
};

TEST_P(SymlinkRepositoryTest, DeleteOldestMovesLinkedFilesForward) {
  std::vector<std::pair<std::string, std::string>> files = {
      {"base/1/1", "one"}, {"base/1/2", "two"}, {"global/3", "three"}};
  std::string a = make_backup("20260101000000", files);
  std::string b = make_backup("20260102000000", files);
  std::string c = make_backup("20260103000000", files);
  const std::string f1 = "/data/base/1/1.zstd";
  const std::string f2 = "/data/base/1/2.zstd";
  const std::string f3 = "/data/global/3.zstd";
  link_to(a + f1, b + f1);
  link_to(a + f1, c + f1);  // two backups link to the same file of a
  link_to(a + f2, b + f2);
  link_to(b + f2, c + f2);  // a chain c -> b -> a
  link_to(b + f3, c + f3);  // points into b only

  auto r = delete_backup(root_, "20260101000000", false);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->files_moved, 2u);      // base/1/1 and base/1/2 handed to b
  EXPECT_EQ(r->links_repointed, 1u);  // c's base/1/1; c's chain into b stays as is
  EXPECT_EQ(labels(), (std::vector<std::string>{"20260102000000", "20260103000000"}));
  for (const std::string& d : {b, c}) {
    EXPECT_EQ(*io::read_file(d + f1), "z:one") << d;
    EXPECT_EQ(*io::read_file(d + f2), "z:two") << d;
    EXPECT_EQ(*io::read_file(d + f3), "z:three") << d;
  }
  EXPECT_FALSE(fs::is_symlink(b + f1));  // the oldest linking backup holds the file
  EXPECT_TRUE(fs::is_symlink(c + f1));
  EXPECT_EQ(fs::read_symlink(c + f1).string(), "../../../../20260102000000/data/base/1/1.zstd");

  // Deleting b now must hand its files to c.
  auto r2 = delete_backup(root_, "20260102000000", false);
  ASSERT_TRUE(r2) << r2.error().message();
  EXPECT_EQ(*io::read_file(c + f1), "z:one");
  EXPECT_EQ(*io::read_file(c + f2), "z:two");
  EXPECT_EQ(*io::read_file(c + f3), "z:three");
  EXPECT_TRUE(test_support::sha512sum_passes(c));
}

INSTANTIATE_TEST_SUITE_P(Links, SymlinkRepositoryTest, ::testing::Values(true, false),
                         [](const auto& p) { return p.param ? "Absolute" : "Relative"; });

TEST_F(RepositoryTest, MovingBaseDirKeepsLinkedBackupsReadable) {
  std::vector<std::pair<std::string, std::string>> files = {{"base/1/1", "one"}};
  std::string a = make_backup("20260101000000", files);
  std::string b = make_backup("20260102000000", files);
  std::string c = make_backup("20260103000000", files);
  ASSERT_TRUE(link_unchanged(a, b));
  // c shares by a relative symlink (as on a filesystem refusing hardlinks).
  ASSERT_TRUE(internal::replace_with_relative_symlink(b + "/data/base/1/1.zstd",
                                                      c + "/data/base/1/1.zstd"));
  fs::rename(base_, tmp_ + "/elsewhere");
  std::string moved_root = backup_root(tmp_ + "/elsewhere", "primary");
  for (const char* l : {"20260101000000", "20260102000000", "20260103000000"}) {
    EXPECT_EQ(*io::read_file(moved_root + "/" + l + "/data/base/1/1.zstd"), "z:one") << l;
  }
  ASSERT_TRUE(delete_backup(moved_root, "20260102000000", false));
  EXPECT_EQ(*io::read_file(moved_root + "/20260103000000/data/base/1/1.zstd"), "z:one");
}

TEST_F(RepositoryTest, CrashedDeleteLeftoverIsIgnoredAndCleanedUp) {
  make_backup("20260101000000", {{"base/1/1", "x"}});
  std::string b = make_backup("20260102000000", {{"base/1/1", "x"}});
  // A crash after the rename: the hidden directory still looks like a complete backup inside.
  fs::rename(b, root_ + "/.delete-20260102000000");
  EXPECT_EQ(labels(), std::vector<std::string>{"20260101000000"});
  auto n = cleanup_deleted(root_);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  EXPECT_FALSE(fs::exists(root_ + "/.delete-20260102000000"));
  EXPECT_EQ(*cleanup_deleted(root_), 0u);
  EXPECT_EQ(*cleanup_deleted(tmp_ + "/nowhere"), 0u);
}

TEST(WalBytesTest, CountsCompleteSegmentsInRange) {
  std::vector<std::string> files = {
      "000000010000000000000001.zstd",    "000000010000000000000002.zstd",
      "000000010000000000000003",         "000000020000000000000004.zstd.aes",
      "000000020000000000000005.partial", "00000002.history",
      "000000020000000000000006.zstd"};
  const uint64_t seg = 16777216;
  EXPECT_EQ(wal_bytes_between(files, "000000010000000000000002", "", seg), 4 * seg);
  EXPECT_EQ(wal_bytes_between(files, "000000010000000000000002", "000000020000000000000004", seg),
            2 * seg);
  EXPECT_EQ(wal_bytes_between(files, "", "", seg), 0u);
}

}  // namespace
}  // namespace pgm::backup
