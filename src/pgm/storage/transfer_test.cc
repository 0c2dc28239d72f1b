#include "pgm/storage/transfer.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.h"
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pgm/storage/local.h"

namespace pgm::storage {
namespace {

namespace fs = std::filesystem;

using test_support::read_text;

// Passes calls through to another engine; put_file fails after `puts_left` successes, as a
// server that goes away mid-upload would.
class FlakyStorage : public Storage {
 public:
  FlakyStorage(Storage& inner, int puts_left) : inner_(inner), puts_left_(puts_left) {}
  std::string name() const override { return "flaky"; }
  Result<void> put_file(std::string_view key, const std::string& path,
                        std::string_view sha) override {
    if (puts_left_-- <= 0) {
      return make_error(ErrorCode::kUnavailable, "flaky: connection reset");
    }
    return inner_.put_file(key, path, sha);
  }
  Result<ObjectInfo> head(std::string_view key) override { return inner_.head(key); }
  Result<void> get(std::string_view key, uint64_t offset, std::optional<uint64_t> length,
                   const Sink& sink) override {
    return inner_.get(key, offset, length, sink);
  }
  Result<std::vector<ObjectInfo>> list(std::string_view prefix) override {
    return inner_.list(prefix);
  }
  Result<void> remove(std::span<const std::string> keys) override { return inner_.remove(keys); }

 private:
  Storage& inner_;
  int puts_left_;
};

class TransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backup_ = dir_ + "/base/primary/backup/20261126100000";
    fs::create_directories(backup_ + "/data/base/1");
    fs::create_directories(backup_ + "/data/pg_notify");  // empty, and needed by PostgreSQL
    write(backup_ + "/backup.info", "STATUS=1\nLABEL=20261126100000\n");
    write(backup_ + "/data/PG_VERSION", "15\n");
    write(backup_ + "/data/base/1/1259.zstd", std::string(300000, 'z'));
    // A shared unchanged file of a linked backup: a symbolic link to the older copy.
    write(dir_ + "/older_1249", "shared bytes");
    fs::create_symlink(dir_ + "/older_1249", backup_ + "/data/base/1/1249");
    auto sha = sha512_of_file(backup_ + "/data/PG_VERSION");
    ASSERT_TRUE(sha);
    write(backup_ + "/backup.sha512", *sha + " *./data/PG_VERSION\n");
    auto s = make_local_storage(dir_ + "/remote");
    ASSERT_TRUE(s) << s.error().message();
    storage_ = std::move(*s);
  }
  static void write(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
  }

  test_support::TempDir tmp_{"pgm-transfer"};
  std::string dir_ = tmp_.path();
  std::string backup_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(TransferTest, UploadThenDownloadGivesTheSameTree) {
  uint64_t last_done = 0;
  auto up = upload_backup(*storage_, backup_, "primary", "20261126100000",
                          [&](uint64_t done, uint64_t total) {
                            EXPECT_LE(done, total);
                            last_done = done;
                          });
  ASSERT_TRUE(up) << up.error().message();
  EXPECT_EQ(up->files, 6u);  // 5 files + .directories
  EXPECT_EQ(last_done, up->bytes);
  EXPECT_EQ(remote_backups(*storage_, "primary").value(),
            std::vector<std::string>{"20261126100000"});

  std::string dest = dir_ + "/restore/primary/backup/20261126100000";
  fs::create_directories(dir_ + "/restore/primary/backup");
  auto down = download_backup(*storage_, "primary", "20261126100000", dest);
  ASSERT_TRUE(down) << down.error().message();
  for (const char* f : {"backup.info", "backup.sha512", "data/PG_VERSION", "data/base/1/1259.zstd",
                        "data/base/1/1249"}) {
    EXPECT_EQ(read_text(dest + "/" + f), read_text(backup_ + "/" + f)) << f;
  }
  EXPECT_TRUE(fs::is_directory(dest + "/data/pg_notify"));
  EXPECT_FALSE(fs::exists(dest + "/.directories"));
  EXPECT_FALSE(fs::exists(dest + ".partial"));
  // A second download never replaces the first.
  EXPECT_FALSE(download_backup(*storage_, "primary", "20261126100000", dest));
}

TEST_F(TransferTest, ParallelWorkersEachUseTheirOwnEngine) {
  for (int i = 0; i < 40; ++i) {
    write(fmt::format("{}/data/base/1/{}", backup_, 20000 + i),
          std::string(5000 + i, 'a' + i % 26));
  }
  int opened = 0;
  Parallel parallel{4, [&]() -> Result<std::unique_ptr<Storage>> {
                      ++opened;  // called on the calling thread, before the workers start
                      return make_local_storage(dir_ + "/remote");
                    }};
  uint64_t calls = 0;
  uint64_t last_done = 0;
  auto up = upload_backup(
      *storage_, backup_, "primary", "20261126100000",
      [&](uint64_t done, uint64_t) {
        ++calls;
        EXPECT_GT(done, last_done);  // never concurrent, always growing
        last_done = done;
      },
      parallel);
  ASSERT_TRUE(up) << up.error().message();
  EXPECT_EQ(opened, 3);
  EXPECT_EQ(up->files, 46u);
  EXPECT_EQ(calls, 46u);
  std::string dest = dir_ + "/parallel-restore";
  auto down = download_backup(*storage_, "primary", "20261126100000", dest, {}, parallel);
  ASSERT_TRUE(down) << down.error().message();
  EXPECT_EQ(down->files, 46u);
  for (int i = 0; i < 40; ++i) {
    std::string rel = fmt::format("data/base/1/{}", 20000 + i);
    EXPECT_EQ(read_text(dest + "/" + rel), read_text(backup_ + "/" + rel)) << rel;
  }
  // A corrupted object among many still fails the parallel download and leaves nothing.
  std::string object = dir_ + "/remote/primary/backup/20261126100000/data/base/1/20017";
  std::string data = read_text(object);
  data[10] = '#';
  write(object, data);
  auto bad = download_backup(*storage_, "primary", "20261126100000", dir_ + "/bad", {}, parallel);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("20017: SHA-512 mismatch"), std::string::npos)
      << bad.error().message();
  EXPECT_FALSE(fs::exists(dir_ + "/bad"));
  EXPECT_FALSE(fs::exists(dir_ + "/bad.partial"));
}

TEST_F(TransferTest, CorruptedRemoteObjectFailsTheDownloadAndLeavesNothing) {
  ASSERT_TRUE(upload_backup(*storage_, backup_, "primary", "20261126100000"));
  std::string object = dir_ + "/remote/primary/backup/20261126100000/data/base/1/1259.zstd";
  std::string data = read_text(object);
  data[1000] = 'y';
  write(object, data);
  std::string dest = dir_ + "/dest";
  auto down = download_backup(*storage_, "primary", "20261126100000", dest);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(down.error().message().find("data/base/1/1259.zstd: SHA-512 mismatch"),
            std::string::npos)
      << down.error().message();
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(dest + ".partial"));
}

TEST_F(TransferTest, InterruptedUploadIsNeitherListedNorRestorable) {
  FlakyStorage flaky(*storage_, 3);
  auto up = upload_backup(flaky, backup_, "primary", "20261126100000");
  ASSERT_FALSE(up);
  EXPECT_EQ(kind(up.error()), ErrorKind::kRetryable);
  EXPECT_TRUE(remote_backups(*storage_, "primary").value().empty());
  auto down = download_backup(*storage_, "primary", "20261126100000", dir_ + "/dest");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code(), ErrorCode::kNotFound);
  // The next attempt completes; the local backup was never touched.
  ASSERT_TRUE(upload_backup(*storage_, backup_, "primary", "20261126100000"));
  EXPECT_EQ(remote_backups(*storage_, "primary").value().size(), 1u);
  EXPECT_TRUE(fs::exists(backup_ + "/backup.info"));
}

TEST_F(TransferTest, ListingIgnoresNamesThatAreNotLabels) {
  ASSERT_TRUE(upload_backup(*storage_, backup_, "primary", "20261126100000"));
  auto sha = sha512_of_file(backup_ + "/backup.info");
  ASSERT_TRUE(sha);
  for (const char* odd : {"primary/backup/junk/backup.info", "primary/backup/2026/backup.info",
                          "primary/backup/20261399100000/backup.info"}) {
    ASSERT_TRUE(storage_->put_file(odd, backup_ + "/backup.info", *sha)) << odd;
  }
  EXPECT_EQ(remote_backups(*storage_, "primary").value(),
            std::vector<std::string>{"20261126100000"});
}

TEST_F(TransferTest, RemoveTakesEveryObject) {
  ASSERT_TRUE(upload_backup(*storage_, backup_, "primary", "20261126100000"));
  ASSERT_TRUE(remove_remote_backup(*storage_, "primary", "20261126100000"));
  EXPECT_TRUE(storage_->list("primary/").value().empty());
  EXPECT_TRUE(remote_backups(*storage_, "primary").value().empty());
}

TEST_F(TransferTest, LocalEngineBasics) {
  write(dir_ + "/f", "0123456789");
  auto sha = sha512_of_file(dir_ + "/f").value();
  ASSERT_TRUE(storage_->put_file("a/b/c", dir_ + "/f", sha));
  auto head = storage_->head("a/b/c");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->size, 10u);
  EXPECT_EQ(head->sha512, sha);
  std::string got;
  ASSERT_TRUE(storage_->get("a/b/c", 2, 5, [&](std::span<const uint8_t> d) -> Result<void> {
    got.append(reinterpret_cast<const char*>(d.data()), d.size());
    return {};
  }));
  EXPECT_EQ(got, "23456");
  EXPECT_EQ(storage_->head("nope").error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(storage_->put_file("../escape", dir_ + "/f", sha));
  std::vector<std::string> keys{"a/b/c", "never/there"};
  EXPECT_TRUE(storage_->remove(keys));
  EXPECT_TRUE(storage_->list("").value().empty());
}

}  // namespace
}  // namespace pgm::storage
