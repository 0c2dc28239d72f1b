// Integration tests of S3Storage against a real s3rver (npm), started per suite on a free
// loopback port with a temporary directory (test_support::S3Server, tests/support). s3rver 3.x
// checks only the access key id of SigV4 requests, so the server runs behind a small Node
// wrapper that first recomputes every request's SigV4 signature (with Node's crypto, from the
// raw request line and headers) and answers 403 SignatureDoesNotMatch on a mismatch: signing is
// verified by an independent implementation on every request, multipart included.
#include "pgm/storage/s3.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/bytes.h"
#include "support/storage_servers.h"
#include <gtest/gtest.h>
#include <openssl/evp.h>

namespace pgm::storage {
namespace {

namespace fs = std::filesystem;

using test_support::S3Server;

constexpr const char* kBucket = S3Server::kBucket;

using test_support::random_string;
using test_support::sha512_hex;

// A /proc/self/status field in KiB ("VmRSS", "VmHWM"), -1 when absent.
long status_kib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::stol(line.substr(field.size() + 1));
    }
  }
  return -1;
}

long rss_kib() { return status_kib("VmRSS"); }

// Samples VmRSS every 2 ms on a thread of its own and keeps the largest value.
class RssSampler {
 public:
  RssSampler() : thread_([this] { run(); }) {}
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;
  ~RssSampler() { stop(); }
  long stop() {
    if (thread_.joinable()) {
      done_ = true;
      thread_.join();
    }
    return peak_;
  }

 private:
  void run() {
    while (!done_) {
      peak_ = std::max<long>(peak_, rss_kib());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    peak_ = std::max<long>(peak_, rss_kib());
  }
  std::atomic<bool> done_{false};
  std::atomic<long> peak_{0};
  std::thread thread_;
};

class S3StorageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/pgm-s3-test-XXXXXX";
    workdir_ = new fs::path(::mkdtemp(tmpl));
    server_ = new S3Server(*workdir_);
    *start_error_ = server_->start();
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    std::error_code ec;
    fs::remove_all(*workdir_, ec);
    delete workdir_;
    workdir_ = nullptr;
  }

  void SetUp() override { ASSERT_EQ(*start_error_, "") << "cannot run s3rver"; }

  static S3Options options(int port, std::string base_dir) {
    S3Options o{.endpoint = "127.0.0.1",
                .port = port,
                .use_tls = false,
                .access_key_id = S3Server::kAccessKeyId,
                .secret_access_key = S3Server::kSecretAccessKey,
                .bucket = kBucket,
                .base_dir = std::move(base_dir),
                .path_style = true,
                .part_size = 5 << 20};
    o.max_attempts = 2;
    o.retry_base = std::chrono::milliseconds(10);
    o.retry_cap = std::chrono::milliseconds(50);
    o.timeout = std::chrono::seconds(20);
    return o;
  }

  std::unique_ptr<Storage> make(const S3Options& o) {
    auto made = make_s3_storage(o);
    EXPECT_TRUE(made.has_value()) << made.error().message();
    return made ? std::move(*made) : nullptr;
  }

  std::unique_ptr<Storage> make(std::string base_dir) {
    return make(options(server_->port(), std::move(base_dir)));
  }

  static std::string write_temp(const std::string& name, const std::string& data) {
    const fs::path path = *workdir_ / name;
    std::ofstream(path, std::ios::binary) << data;
    return path.string();
  }

  static std::string get_all(Storage& s, const std::string& key, uint64_t offset = 0,
                             std::optional<uint64_t> length = std::nullopt) {
    std::string got;
    auto r = s.get(key, offset, length, [&](std::span<const uint8_t> bytes) -> Result<void> {
      got.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      return {};
    });
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return got;
  }

  static fs::path* workdir_;
  static S3Server* server_;
  static std::string* start_error_;
};

fs::path* S3StorageTest::workdir_ = nullptr;
S3Server* S3StorageTest::server_ = nullptr;
std::string* S3StorageTest::start_error_ = new std::string();

TEST_F(S3StorageTest, PutHeadGetRoundTrip) {
  auto s = make("roundtrip/base");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->name(), "s3");
  const std::string data = random_string(10000, 1);
  const std::string path = write_temp("small", data);
  auto put = s->put_file("primary/backup/1/data/base/1/1259.zstd", path, sha512_hex(data));
  ASSERT_TRUE(put.has_value()) << put.error().message();
  auto info = s->head("primary/backup/1/data/base/1/1259.zstd");
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_EQ(info->key, "primary/backup/1/data/base/1/1259.zstd");
  EXPECT_EQ(info->size, data.size());
  EXPECT_EQ(info->sha512, sha512_hex(data));
  EXPECT_TRUE(get_all(*s, "primary/backup/1/data/base/1/1259.zstd") == data);
}

TEST_F(S3StorageTest, EmptyFileAndStorageClass) {
  S3Options o = options(server_->port(), "empty");
  o.storage_class = "REDUCED_REDUNDANCY";
  auto s = make(o);
  ASSERT_TRUE(s);
  const std::string path = write_temp("empty", "");
  auto put = s->put_file("zero", path, sha512_hex(""));
  ASSERT_TRUE(put.has_value()) << put.error().message();
  auto info = s->head("zero");
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_EQ(info->size, 0U);
  EXPECT_EQ(get_all(*s, "zero"), "");
}

TEST_F(S3StorageTest, KeysWithSpecialCharactersRoundTrip) {
  auto s = make("special chars/base+dir");
  ASSERT_TRUE(s);
  const std::string data = "hello";
  const std::string path = write_temp("special", data);
  const std::string key = "dir/a b+c=&d'e(f)~g*h,i;j:k@l$m!\xc3\xa9.txt";
  auto put = s->put_file(key, path, sha512_hex(data));
  ASSERT_TRUE(put.has_value()) << put.error().message();
  EXPECT_EQ(get_all(*s, key), data);
  auto listed = s->list("dir/");
  ASSERT_TRUE(listed.has_value()) << listed.error().message();
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ((*listed)[0].key, key);
  EXPECT_EQ((*listed)[0].size, data.size());
  const std::vector<std::string> keys = {key};
  auto removed = s->remove(keys);
  ASSERT_TRUE(removed.has_value()) << removed.error().message();
  EXPECT_EQ(s->head(key).error().code(), ErrorCode::kNotFound);
}

TEST_F(S3StorageTest, RangedGet) {
  auto s = make("ranged");
  ASSERT_TRUE(s);
  const std::string data = random_string(5000, 2);
  ASSERT_TRUE(s->put_file("obj", write_temp("ranged", data), sha512_hex(data)).has_value());
  // Binary data: compare without printing it.
  EXPECT_TRUE(get_all(*s, "obj", 100, 50) == data.substr(100, 50));
  EXPECT_TRUE(get_all(*s, "obj", 4000) == data.substr(4000));
  EXPECT_TRUE(get_all(*s, "obj", 0, 1) == data.substr(0, 1));
  EXPECT_TRUE(get_all(*s, "obj", 0, 10) == data.substr(0, 10));
  EXPECT_TRUE(get_all(*s, "obj", 4999, 1) == data.substr(4999, 1));
  EXPECT_TRUE(get_all(*s, "obj", 10, 0).empty());
}

TEST_F(S3StorageTest, MultipartRoundTrip) {
  auto s = make("multipart");
  ASSERT_TRUE(s);
  const std::string data = random_string((12 << 20) + 123, 3);  // 3 parts of 5 MiB
  ASSERT_TRUE(s->put_file("big", write_temp("multipart", data), sha512_hex(data)).has_value());
  auto info = s->head("big");
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_EQ(info->size, data.size());
  EXPECT_EQ(info->sha512, sha512_hex(data));
  const std::string got = get_all(*s, "big");
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
  EXPECT_TRUE(get_all(*s, "big", (5 << 20) - 10, 20) == data.substr((5 << 20) - 10, 20));
}

TEST_F(S3StorageTest, ListFollowsPagesAndHonoursPrefix) {
  S3Options o = options(server_->port(), "listing");
  o.list_page_size = 2;
  auto s = make(o);
  ASSERT_TRUE(s);
  const std::string path = write_temp("list", "x");
  const std::string sha = sha512_hex("x");
  std::vector<std::string> a_keys;
  for (int i = 6; i >= 0; --i) {
    a_keys.push_back("a/" + std::to_string(i));
    ASSERT_TRUE(s->put_file(a_keys.back(), path, sha).has_value());
  }
  ASSERT_TRUE(s->put_file("b/0", path, sha).has_value());
  ASSERT_TRUE(s->put_file("ab", path, sha).has_value());
  auto a = s->list("a/");
  ASSERT_TRUE(a.has_value()) << a.error().message();
  ASSERT_EQ(a->size(), 7U);
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].key, "a/" + std::to_string(i));
    EXPECT_EQ((*a)[i].size, 1U);
  }
  auto all = s->list("");
  ASSERT_TRUE(all.has_value()) << all.error().message();
  EXPECT_EQ(all->size(), 9U);
  auto none = s->list("zzz");
  ASSERT_TRUE(none.has_value()) << none.error().message();
  EXPECT_TRUE(none->empty());
}

TEST_F(S3StorageTest, RemoveBatchesAndIgnoresMissingKeys) {
  auto s = make("remove");
  ASSERT_TRUE(s);
  const std::string path = write_temp("remove", "y");
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    keys.push_back("k" + std::to_string(i));
    ASSERT_TRUE(s->put_file(keys.back(), path, sha512_hex("y")).has_value());
  }
  for (int i = 0; i < 1200; ++i) {  // two batches (1000 + 205 keys), mostly absent
    keys.push_back("never-existed/" + std::to_string(i));
  }
  auto removed = s->remove(keys);
  ASSERT_TRUE(removed.has_value()) << removed.error().message();
  auto left = s->list("");
  ASSERT_TRUE(left.has_value());
  EXPECT_TRUE(left->empty());
  EXPECT_TRUE(s->remove({}).has_value());
}

TEST_F(S3StorageTest, MissingKeyIsNotFound) {
  auto s = make("missing");
  ASSERT_TRUE(s);
  auto h = s->head("nope");
  ASSERT_FALSE(h.has_value());
  EXPECT_EQ(h.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(kind(h.error()), ErrorKind::kNotFound);
  EXPECT_NE(h.error().message().find("s3: HEAD nope: 404"), std::string::npos)
      << h.error().message();
  auto g = s->get("nope", 0, std::nullopt, [](std::span<const uint8_t>) -> Result<void> {
    ADD_FAILURE() << "sink called for an error body";
    return {};
  });
  ASSERT_FALSE(g.has_value());
  EXPECT_EQ(g.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(g.error().message().find("404 NoSuchKey"), std::string::npos) << g.error().message();
}

TEST_F(S3StorageTest, WrongSecretIsPermissionError) {
  S3Options o = options(server_->port(), "auth");
  o.secret_access_key = "wrong";
  auto s = make(o);
  ASSERT_TRUE(s);
  const std::string path = write_temp("auth", "z");
  auto put = s->put_file("x", path, sha512_hex("z"));
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code(), ErrorCode::kPermission);
  EXPECT_EQ(kind(put.error()), ErrorKind::kAuth);
  EXPECT_NE(put.error().message().find("s3: PUT x: 403 SignatureDoesNotMatch: "), std::string::npos)
      << put.error().message();
}

TEST_F(S3StorageTest, UnknownAccessKeyIsPermissionError) {
  S3Options o = options(server_->port(), "auth");
  o.access_key_id = "NOBODY";
  auto s = make(o);
  ASSERT_TRUE(s);
  auto h = s->list("");
  ASSERT_FALSE(h.has_value());
  EXPECT_EQ(h.error().code(), ErrorCode::kPermission);
  EXPECT_NE(h.error().message().find("403 InvalidAccessKeyId"), std::string::npos)
      << h.error().message();
}

TEST_F(S3StorageTest, VirtualHostStyle) {
  S3Options o = options(server_->port(), "vhost");
  o.endpoint = "s3.localhost";  // curl resolves *.localhost to loopback
  o.path_style = false;
  auto s = make(o);
  ASSERT_TRUE(s);
  const std::string data = "virtual host";
  auto put = s->put_file("v/1", write_temp("vhost", data), sha512_hex(data));
  ASSERT_TRUE(put.has_value()) << put.error().message();
  EXPECT_EQ(get_all(*s, "v/1"), data);
  auto listed = s->list("v/");
  ASSERT_TRUE(listed.has_value()) << listed.error().message();
  ASSERT_EQ(listed->size(), 1U);
  const std::vector<std::string> keys = {"v/1"};
  EXPECT_TRUE(s->remove(keys).has_value());
}

TEST_F(S3StorageTest, SinkErrorStopsDownload) {
  auto s = make("sinkerror");
  ASSERT_TRUE(s);
  const std::string data = random_string(100000, 4);
  ASSERT_TRUE(s->put_file("obj", write_temp("sinkerror", data), sha512_hex(data)).has_value());
  auto g = s->get("obj", 0, std::nullopt, [](std::span<const uint8_t>) -> Result<void> {
    return make_error(ErrorCode::kCorruption, "sink refused");
  });
  ASSERT_FALSE(g.has_value());
  EXPECT_EQ(g.error().code(), ErrorCode::kCorruption);
  EXPECT_EQ(g.error().message(), "sink refused");
}

TEST_F(S3StorageTest, RetriesSlowDownPerRequest) {
  // The server answers 503 SlowDown to the first try of every request below: creating the
  // upload, each part (re-read from the file), completing, HEAD and GET all succeed on retry.
  auto s = make("retry");
  ASSERT_TRUE(s);
  const std::string data = random_string((10 << 20) + 7, 5);
  auto put = s->put_file("flaky/big", write_temp("flaky", data), sha512_hex(data));
  ASSERT_TRUE(put.has_value()) << put.error().message();
  auto info = s->head("flaky/big");
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_EQ(info->sha512, sha512_hex(data));
  EXPECT_TRUE(get_all(*s, "flaky/big") == data);
  S3Options once = options(server_->port(), "retry");
  once.max_attempts = 1;
  auto no_retry = make(once);
  ASSERT_TRUE(no_retry);
  auto h = no_retry->head("flaky/other");
  ASSERT_FALSE(h.has_value());
  EXPECT_EQ(kind(h.error()), ErrorKind::kRetryable);
  // A HEAD answer has no body to name the S3 error code.
  EXPECT_EQ(h.error().message(), "s3: HEAD flaky/other: 503");
}

TEST_F(S3StorageTest, ServerStoppedIsRetryable) {
  char tmpl[] = "/tmp/pgm-s3-stop-XXXXXX";
  const fs::path dir = ::mkdtemp(tmpl);
  S3Server own(dir);
  ASSERT_EQ(own.start(), "");
  S3Options o = options(own.port(), "stopped");
  o.max_attempts = 3;
  auto s = make(o);
  ASSERT_TRUE(s);
  const std::string data = "before the stop";
  ASSERT_TRUE(s->put_file("k", write_temp("stopped", data), sha512_hex(data)).has_value());
  own.stop();
  const auto start = std::chrono::steady_clock::now();
  auto h = s->head("k");
  ASSERT_FALSE(h.has_value());
  EXPECT_EQ(kind(h.error()), ErrorKind::kRetryable) << h.error().message();
  EXPECT_NE(h.error().message().find("s3: HEAD k: "), std::string::npos) << h.error().message();
  EXPECT_NE(h.error().message().find("(after 3 attempts)"), std::string::npos)
      << h.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST_F(S3StorageTest, LargeTransferKeepsMemoryBounded) {
  S3Options o = options(server_->port(), "large");
  o.part_size = 8 << 20;
  auto s = make(o);
  ASSERT_TRUE(s);
  // 100 MiB + 1 byte written in 1 MiB chunks, hashed as it goes.
  const fs::path path = *workdir_ / "large";
  constexpr size_t kChunk = 1 << 20;
  constexpr size_t kChunks = 100;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr);
  {
    std::ofstream out(path, std::ios::binary);
    for (size_t i = 0; i <= kChunks; ++i) {
      const std::string chunk = random_string(i == kChunks ? 1 : kChunk, 100 + i);
      out << chunk;
      EVP_DigestUpdate(ctx, chunk.data(), chunk.size());
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  std::string sha;
  char hex[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", md[i]);
    sha += hex;
  }
  const uint64_t size = kChunks * kChunk + 1;

  const long before = rss_kib();
  ASSERT_GT(before, 0);
  RssSampler put_sampler;
  auto put = s->put_file("large", path.string(), sha);
  const long put_peak = put_sampler.stop();
  ASSERT_TRUE(put.has_value()) << put.error().message();

  EVP_MD_CTX* got_ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(got_ctx, EVP_sha512(), nullptr);
  uint64_t received = 0;
  RssSampler get_sampler;
  auto got = s->get("large", 0, std::nullopt, [&](std::span<const uint8_t> bytes) -> Result<void> {
    EVP_DigestUpdate(got_ctx, bytes.data(), bytes.size());
    received += bytes.size();
    return {};
  });
  const long get_peak = get_sampler.stop();
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EVP_DigestFinal_ex(got_ctx, md, &len);
  EVP_MD_CTX_free(got_ctx);
  std::string got_sha;
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", md[i]);
    got_sha += hex;
  }
  EXPECT_EQ(received, size);
  EXPECT_EQ(got_sha, sha);
  std::printf("VmRSS before %ld KiB, peak during put %ld KiB, peak during get %ld KiB\n", before,
              put_peak, get_peak);
  EXPECT_LT(put_peak - before, 64 * 1024) << "put grew RSS by " << (put_peak - before) << " KiB";
  EXPECT_LT(get_peak - before, 64 * 1024) << "get grew RSS by " << (get_peak - before) << " KiB";
  std::error_code ec;
  fs::remove(path, ec);
}

TEST(S3OptionsTest, ValidationNamesTheKey) {
  struct Case {
    void (*mutate)(S3Options&);
    const char* message;
  };
  const Case cases[] = {
      {[](S3Options& o) { o.bucket.clear(); }, "s3_bucket is empty"},
      {[](S3Options& o) { o.access_key_id.clear(); }, "s3_access_key_id is empty"},
      {[](S3Options& o) { o.secret_access_key.clear(); }, "s3_secret_access_key is empty"},
      {[](S3Options& o) { o.region.clear(); }, "s3_region is empty"},
      {[](S3Options& o) { o.port = 70000; }, "s3_port 70000 is out of range"},
      {[](S3Options& o) { o.endpoint = "http://x"; }, "s3_endpoint 'http://x' must be"},
      {[](S3Options& o) { o.part_size = 1 << 20; }, "s3 part size"},
  };
  for (const auto& c : cases) {
    S3Options o{.access_key_id = "id", .secret_access_key = "secret", .bucket = "b"};
    c.mutate(o);
    auto made = make_s3_storage(o);
    ASSERT_FALSE(made.has_value()) << c.message;
    EXPECT_EQ(made.error().code(), ErrorCode::kConfig);
    EXPECT_EQ(made.error().message().rfind(c.message, 0), 0U) << made.error().message();
  }
  const S3Options ok{.access_key_id = "id", .secret_access_key = "secret", .bucket = "b"};
  EXPECT_TRUE(make_s3_storage(ok).has_value());
}

}  // namespace
}  // namespace pgm::storage
