// Integration tests of AzureStorage against a real Azurite (the Azure Storage emulator), started
// per suite on a free port with a throwaway workspace (test_support::AzuriteServer, tests/support).
// Azurite is installed by scripts/install-deps.sh under /opt/pgmoneta-test-tools; PGM_AZURITE
// overrides the path.
#include "pgm/storage/azure.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/storage_servers.h"
#include <gtest/gtest.h>

namespace pgm::storage {
namespace {

using test_support::AzuriteServer;

constexpr const char* kDevKey = AzuriteServer::kDevKey;
constexpr const char* kContainer = "pgmoneta";
// A well-formed stand-in for a SHA-512 (hex) where the content does not matter.
std::string fake_sha(char c) {
  std::string sha(128, c);
  return sha;
}

AzureOptions options_for(const AzuriteServer& server, const std::string& base_dir) {
  AzureOptions o;
  o.account = AzuriteServer::kAccount;
  o.container = kContainer;
  o.shared_key = kDevKey;
  o.base_dir = base_dir;
  o.endpoint = "127.0.0.1";
  o.port = server.port();
  o.use_tls = false;
  o.timeout = std::chrono::seconds(20);
  o.retry_base = std::chrono::milliseconds(10);
  o.retry_cap = std::chrono::milliseconds(100);
  return o;
}

uint8_t pattern(uint64_t i) { return static_cast<uint8_t>((i * 7) + (i / 251)); }

// Writes `size` pattern bytes to a new file in `dir`, 1 MiB at a time.
std::string write_pattern_file(const std::string& dir, const std::string& name, uint64_t size) {
  std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<char> chunk;
  for (uint64_t done = 0; done < size;) {
    uint64_t n = std::min<uint64_t>(size - done, 1 << 20);
    chunk.resize(n);
    for (uint64_t i = 0; i < n; ++i) {
      chunk[i] = static_cast<char>(pattern(done + i));
    }
    out.write(chunk.data(), static_cast<std::streamsize>(n));
    done += n;
  }
  return path;
}

Result<std::string> get_all(Storage& s, std::string_view key, uint64_t offset = 0,
                            std::optional<uint64_t> length = std::nullopt) {
  std::string data;
  PGM_TRY(s.get(key, offset, length, [&](std::span<const uint8_t> bytes) -> Result<void> {
    data.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return {};
  }));
  return data;
}

bool matches_pattern(const std::string& data, uint64_t offset) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (static_cast<uint8_t>(data[i]) != pattern(offset + i)) {
      return false;
    }
  }
  return true;
}

int64_t rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtoll(line.c_str() + 6, nullptr, 10);
    }
  }
  return -1;
}

class AzureStorageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_server = new AzuriteServer();  // NOLINT: suite-lifetime fixture
    suite_start_error = suite_server->start();
    if (suite_start_error.empty()) {
      auto created = create_azure_container(options_for(*suite_server, ""));
      if (!created) {
        suite_start_error = "create container: " + created.error().message();
      }
    }
  }
  static void TearDownTestSuite() {
    delete suite_server;  // NOLINT
    suite_server = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(suite_start_error.empty()) << suite_start_error;
    // Each test works under its own base_dir.
    base_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    auto made = make_azure_storage(options_for(*suite_server, base_));
    ASSERT_TRUE(made) << made.error().message();
    storage_ = std::move(*made);
    files_ = suite_server->dir() + "/files-" + base_;
    std::filesystem::create_directories(files_);
  }

  static AzuriteServer* suite_server;
  static std::string suite_start_error;
  std::string base_;
  std::string files_;
  std::unique_ptr<Storage> storage_;
};

AzuriteServer* AzureStorageTest::suite_server = nullptr;
std::string AzureStorageTest::suite_start_error;

TEST_F(AzureStorageTest, PutHeadGetRoundTrip) {
  std::string path = write_pattern_file(files_, "small", 1000);
  ASSERT_TRUE(storage_->put_file("backup/a b+c.dat", path, fake_sha('a')));
  auto info = storage_->head("backup/a b+c.dat");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->key, "backup/a b+c.dat");
  EXPECT_EQ(info->size, 1000u);
  EXPECT_EQ(info->sha512, fake_sha('a'));
  auto data = get_all(*storage_, "backup/a b+c.dat");
  ASSERT_TRUE(data) << data.error().message();
  EXPECT_EQ(data->size(), 1000u);
  EXPECT_TRUE(matches_pattern(*data, 0));

  // Replacing keeps the newest content and checksum.
  std::string other = write_pattern_file(files_, "other", 10);
  const std::string sha2 = fake_sha('b');
  ASSERT_TRUE(storage_->put_file("backup/a b+c.dat", other, sha2));
  info = storage_->head("backup/a b+c.dat");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 10u);
  EXPECT_EQ(info->sha512, sha2);
}

TEST_F(AzureStorageTest, DownloadVerifiedChecksStoredSha512) {
  std::string path = write_pattern_file(files_, "verified", 300000);
  auto sha = sha512_of_file(path);
  ASSERT_TRUE(sha) << sha.error().message();
  ASSERT_TRUE(storage_->put_file("good", path, *sha));
  ASSERT_TRUE(storage_->put_file("bad", path, fake_sha('a')));
  auto good = download_verified(*storage_, "good", files_ + "/good.out");
  ASSERT_TRUE(good) << good.error().message();
  auto copy = sha512_of_file(files_ + "/good.out");
  ASSERT_TRUE(copy);
  EXPECT_EQ(*copy, *sha);
  auto bad = download_verified(*storage_, "bad", files_ + "/bad.out");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorruption) << bad.error().message();
  EXPECT_FALSE(std::filesystem::exists(files_ + "/bad.out"));
}

TEST_F(AzureStorageTest, EmptyFileRoundTrip) {
  std::string path = write_pattern_file(files_, "empty", 0);
  auto put = storage_->put_file("empty", path, fake_sha('a'));
  ASSERT_TRUE(put) << put.error().message();
  auto info = storage_->head("empty");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->size, 0u);
  auto data = get_all(*storage_, "empty");
  ASSERT_TRUE(data) << data.error().message();
  EXPECT_TRUE(data->empty());
}

TEST_F(AzureStorageTest, LargeFileGoesUpInBlocks) {
  AzureOptions o = options_for(*suite_server, base_);
  o.block_size = 1 << 20;
  auto made = make_azure_storage(o);
  ASSERT_TRUE(made);
  const uint64_t size = (3 << 20) + 12345;  // four blocks, the last one short
  std::string path = write_pattern_file(files_, "large", size);
  auto put = (*made)->put_file("large.bin", path, fake_sha('a'));
  ASSERT_TRUE(put) << put.error().message();
  auto info = (*made)->head("large.bin");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->size, size);
  EXPECT_EQ(info->sha512, fake_sha('a'));
  // Four Put Block calls and one Put Block List, as seen in Azurite's access log (written
  // asynchronously, hence the polling).
  int blocks = 0;
  int lists = 0;
  for (int i = 0; i < 50 && (blocks != 4 || lists != 1); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream log(suite_server->dir() + "/azurite.log");
    std::string line;
    blocks = 0;
    lists = 0;
    while (std::getline(log, line)) {
      blocks += line.find(base_ + "/large.bin?comp=block&blockid=") != std::string::npos ? 1 : 0;
      lists += line.find(base_ + "/large.bin?comp=blocklist") != std::string::npos ? 1 : 0;
    }
  }
  EXPECT_EQ(blocks, 4) << std::ifstream(suite_server->dir() + "/azurite.log").rdbuf();
  EXPECT_EQ(lists, 1);
  auto data = get_all(**made, "large.bin");
  ASSERT_TRUE(data) << data.error().message();
  ASSERT_EQ(data->size(), size);
  EXPECT_TRUE(matches_pattern(*data, 0));
}

TEST_F(AzureStorageTest, RangedGet) {
  std::string path = write_pattern_file(files_, "ranged", 5000);
  ASSERT_TRUE(storage_->put_file("r", path, fake_sha('a')));
  auto middle = get_all(*storage_, "r", 100, 50);
  ASSERT_TRUE(middle) << middle.error().message();
  EXPECT_EQ(middle->size(), 50u);
  EXPECT_TRUE(matches_pattern(*middle, 100));
  auto tail = get_all(*storage_, "r", 4000);
  ASSERT_TRUE(tail) << tail.error().message();
  EXPECT_EQ(tail->size(), 1000u);
  EXPECT_TRUE(matches_pattern(*tail, 4000));
  auto head = get_all(*storage_, "r", 0, 1);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->size(), 1u);
  auto none = get_all(*storage_, "r", 10, 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(AzureStorageTest, ListFollowsPagesAndFiltersPrefix) {
  AzureOptions o = options_for(*suite_server, base_);
  o.list_page_size = 2;
  auto made = make_azure_storage(o);
  ASSERT_TRUE(made);
  Storage& s = **made;
  std::string path = write_pattern_file(files_, "f", 7);
  std::vector<std::string> keys = {"wal/3", "wal/1",    "backup/x/2", "backup/x/1",
                                   "wal/2", "backup/y", "wal/10"};
  for (const std::string& key : keys) {
    ASSERT_TRUE(s.put_file(key, path, fake_sha('a'))) << key;
  }
  auto all = s.list("");
  ASSERT_TRUE(all) << all.error().message();
  ASSERT_EQ(all->size(), keys.size());
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    EXPECT_EQ((*all)[i].key, sorted[i]);
    EXPECT_EQ((*all)[i].size, 7u);
    EXPECT_EQ((*all)[i].sha512, fake_sha('a'));
  }
  auto wal = s.list("wal/");
  ASSERT_TRUE(wal) << wal.error().message();
  ASSERT_EQ(wal->size(), 4u);
  EXPECT_EQ((*wal)[0].key, "wal/1");
  EXPECT_EQ((*wal)[3].key, "wal/3");
  auto x = s.list("backup/x");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->size(), 2u);
  auto nothing = s.list("nope/");
  ASSERT_TRUE(nothing);
  EXPECT_TRUE(nothing->empty());
}

TEST_F(AzureStorageTest, RemoveDeletesAndIgnoresMissingKeys) {
  std::string path = write_pattern_file(files_, "f", 3);
  ASSERT_TRUE(storage_->put_file("a", path, fake_sha('a')));
  ASSERT_TRUE(storage_->put_file("b", path, fake_sha('a')));
  std::vector<std::string> keys = {"a", "missing", "b"};
  auto removed = storage_->remove(keys);
  ASSERT_TRUE(removed) << removed.error().message();
  auto listed = storage_->list("");
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty());
  auto again = storage_->remove(keys);
  EXPECT_TRUE(again) << again.error().message();
}

TEST_F(AzureStorageTest, MissingObjectIsNotFound) {
  auto info = storage_->head("nope");
  ASSERT_FALSE(info);
  EXPECT_EQ(kind(info.error()), ErrorKind::kNotFound) << info.error().message();
  auto data = get_all(*storage_, "nope");
  ASSERT_FALSE(data);
  EXPECT_EQ(kind(data.error()), ErrorKind::kNotFound);
  EXPECT_NE(data.error().message().find("404 BlobNotFound"), std::string::npos)
      << data.error().message();
}

TEST_F(AzureStorageTest, MissingContainerIsNotFound) {
  AzureOptions o = options_for(*suite_server, base_);
  o.container = "no-such-container";
  auto made = make_azure_storage(o);
  ASSERT_TRUE(made);
  std::string path = write_pattern_file(files_, "f", 3);
  auto put = (*made)->put_file("k", path, fake_sha('a'));
  ASSERT_FALSE(put);
  EXPECT_EQ(kind(put.error()), ErrorKind::kNotFound) << put.error().message();
  EXPECT_NE(put.error().message().find("ContainerNotFound"), std::string::npos)
      << put.error().message();
}

TEST_F(AzureStorageTest, WrongKeyIsAuthError) {
  AzureOptions o = options_for(*suite_server, base_);
  o.shared_key = "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXkgd3Jvbmcga2V5IHdyb25nIGtleQ==";
  auto made = make_azure_storage(o);
  ASSERT_TRUE(made);
  std::string path = write_pattern_file(files_, "f", 3);
  auto put = (*made)->put_file("k", path, fake_sha('a'));
  ASSERT_FALSE(put);
  EXPECT_EQ(kind(put.error()), ErrorKind::kAuth);
  // The service says AuthenticationFailed; Azurite says AuthorizationFailure.
  EXPECT_NE(put.error().message().find("azure: PUT " + base_ + "/k: 403 Auth"), std::string::npos)
      << put.error().message();
  EXPECT_NE(put.error().message().find("failed to authenticate"), std::string::npos)
      << put.error().message();
  auto listed = (*made)->list("");
  ASSERT_FALSE(listed);
  EXPECT_EQ(kind(listed.error()), ErrorKind::kAuth) << listed.error().message();
}

TEST_F(AzureStorageTest, MissingLocalFileIsReported) {
  auto put = storage_->put_file("k", files_ + "/does-not-exist", fake_sha('a'));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code(), ErrorCode::kNotFound);
}

TEST_F(AzureStorageTest, SinkErrorStopsDownload) {
  std::string path = write_pattern_file(files_, "f", 100000);
  ASSERT_TRUE(storage_->put_file("k", path, fake_sha('a')));
  auto got = storage_->get("k", 0, std::nullopt, [](std::span<const uint8_t>) -> Result<void> {
    return make_error(ErrorCode::kCorruption, "sink says no");
  });
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(got.error().message().find("sink says no"), std::string::npos);
}

TEST(AzureOptionsTest, ValidationNamesTheKey) {
  AzureOptions good;
  good.account = "acct1";
  good.container = "backups";
  good.shared_key = kDevKey;
  EXPECT_TRUE(make_azure_storage(good));

  struct Case {
    void (*change)(AzureOptions&);
    const char* key;
  };
  const Case cases[] = {
      {[](AzureOptions& o) { o.account.clear(); }, "azure_storage_account"},
      {[](AzureOptions& o) { o.account = "Bad_Name"; }, "azure_storage_account"},
      {[](AzureOptions& o) { o.container = "ab"; }, "azure_container"},
      {[](AzureOptions& o) { o.container = "Upper"; }, "azure_container"},
      {[](AzureOptions& o) { o.shared_key.clear(); }, "azure_shared_key"},
      {[](AzureOptions& o) { o.shared_key = "%%%"; }, "azure_shared_key"},
      {[](AzureOptions& o) { o.endpoint = "http://host"; }, "azure_endpoint"},
      {[](AzureOptions& o) { o.port = 70000; }, "azure_port"},
      {[](AzureOptions& o) { o.block_size = 0; }, "block size"},
  };
  for (const Case& c : cases) {
    AzureOptions o = good;
    c.change(o);
    auto made = make_azure_storage(o);
    ASSERT_FALSE(made) << c.key;
    EXPECT_EQ(made.error().code(), ErrorCode::kConfig);
    EXPECT_NE(made.error().message().find(c.key), std::string::npos) << made.error().message();
  }
}

// A server restarted mid-download: the download resumes after the bytes already delivered.
// A server that goes away mid-download and stays away: a retryable error once the attempts
// are spent.
TEST(AzureOutageTest, DownloadResumesAfterRestartAndFailsRetryablyWhenDown) {
  AzuriteServer server;
  std::string error = server.start();
  ASSERT_TRUE(error.empty()) << error;
  AzureOptions o = options_for(server, "outage");
  o.max_attempts = 3;
  ASSERT_TRUE(create_azure_container(o));
  auto made = make_azure_storage(o);
  ASSERT_TRUE(made);
  Storage& s = **made;
  const uint64_t size = 48 << 20;
  std::string path = write_pattern_file(server.dir(), "big", size);
  auto put = s.put_file("big", path, fake_sha('a'));
  ASSERT_TRUE(put) << put.error().message();

  // Restarted while the download waits between attempts: it resumes where it stopped.
  AzureOptions patient = o;
  patient.max_attempts = 12;
  patient.retry_base = std::chrono::milliseconds(200);
  patient.retry_cap = std::chrono::milliseconds(2000);
  auto resumer = make_azure_storage(patient);
  ASSERT_TRUE(resumer);
  uint64_t received = 0;
  bool intact = true;
  std::thread restarter;
  auto resumed =
      (*resumer)->get("big", 0, std::nullopt, [&](std::span<const uint8_t> bytes) -> Result<void> {
        if (received == 0) {
          server.stop(SIGTERM);
          restarter = std::thread([&server] { server.start(); });
        }
        for (size_t i = 0; i < bytes.size() && intact; i += 4093) {
          intact = bytes[i] == pattern(received + i);
        }
        received += bytes.size();
        return {};
      });
  restarter.join();
  ASSERT_TRUE(resumed) << resumed.error().message();
  EXPECT_EQ(received, size);
  EXPECT_TRUE(intact);
  // The second GET asked for the rest only (206 Partial Content).
  bool partial = false;
  for (int i = 0; i < 50 && !partial; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream log(server.dir() + "/azurite.log");
    std::string line;
    while (std::getline(log, line)) {
      partial = partial || line.find("GET /devstoreaccount1/pgmoneta/outage/big HTTP/1.1\" 206") !=
                               std::string::npos;
    }
  }
  EXPECT_TRUE(partial) << std::ifstream(server.dir() + "/azurite.log").rdbuf();

  received = 0;
  auto got = s.get("big", 0, std::nullopt, [&](std::span<const uint8_t> bytes) -> Result<void> {
    if (received == 0) {
      server.stop(SIGKILL);
    }
    received += bytes.size();
    return {};
  });
  ASSERT_FALSE(got) << "received " << received << " of " << size;
  EXPECT_EQ(kind(got.error()), ErrorKind::kRetryable) << got.error().message();
  EXPECT_LT(received, size);

  auto info = s.head("big");
  ASSERT_FALSE(info);
  EXPECT_EQ(kind(info.error()), ErrorKind::kRetryable) << info.error().message();
  EXPECT_NE(info.error().message().find("gave up after 3 attempts"), std::string::npos)
      << info.error().message();
}

// 100 MiB+ up and down with the default 8 MiB blocks: resident memory must not follow the
// object size.
TEST_F(AzureStorageTest, LargeTransfersKeepMemoryBounded) {
  const uint64_t size = (110 << 20) + 777;
  std::string path = write_pattern_file(files_, "huge", size);
  const int64_t before = rss_kib();
  ASSERT_GT(before, 0);
  // Sampled every 10 ms while both transfers run.
  std::atomic<int64_t> peak{before};
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done.load()) {
      int64_t now = rss_kib();
      int64_t seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto put = storage_->put_file("huge", path, fake_sha('a'));
  uint64_t received = 0;
  bool intact = true;
  auto got =
      storage_->get("huge", 0, std::nullopt, [&](std::span<const uint8_t> bytes) -> Result<void> {
        for (size_t i = 0; i < bytes.size() && intact; i += 4093) {
          intact = bytes[i] == pattern(received + i);
        }
        received += bytes.size();
        return {};
      });
  done = true;
  sampler.join();
  ASSERT_TRUE(put) << put.error().message();
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(received, size);
  EXPECT_TRUE(intact);
  EXPECT_LT(peak.load() - before, 64 * 1024)
      << "RSS grew from " << before << " KiB to " << peak.load() << " KiB";
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace pgm::storage
