// SftpStorage against a real OpenSSH sshd: each test process starts a throwaway sshd on a free
// 127.0.0.1 port with its own host key, user key pair, authorized_keys and sshd_config
// (test_support::SshServer, tests/support), and the client trusts it through a known_hosts file
// written from the host key. The tests log in as the current user (root in our containers, hence
// PermitRootLogin prohibit-password: key only).
#include "pgm/storage/sftp.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/bytes.h"
#include "support/storage_servers.h"
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace pgm::storage {
namespace {

namespace fs = std::filesystem;

using test_support::read_text;
using test_support::write_text;

using test_support::SshServer;

std::string run_keygen(const fs::path& key) { return test_support::generate_ssh_key(key); }

std::string current_user() { return SshServer::login_user(); }

// "VmRSS" (resident now) or "VmHWM" (peak resident since the last reset_peak_rss) in KiB.
long status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::stol(line.substr(field.size() + 1));
    }
  }
  return 0;
}

void reset_peak_rss() { write_text("/proc/self/clear_refs", "5"); }

using test_support::random_string;

// Any well-formed hex digest: the engine stores what it is given.
std::string fake_digest() {
  std::string digest(128, 'a');
  return digest;
}

class SftpStorageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/pgm-sftp-XXXXXX";
    suite_root = new fs::path(::mkdtemp(pattern));
    suite_server = new SshServer(*suite_root / "server");
    suite_setup_error = new std::string(suite_server->prepare());
    if (suite_setup_error->empty()) {
      *suite_setup_error = suite_server->start();
    }
  }
  static void TearDownTestSuite() {
    delete suite_server;
    suite_server = nullptr;
    // PGM_SFTP_TEST_KEEP=1 keeps the directory (sshd.log, remote files) for a post-mortem.
    if (std::getenv("PGM_SFTP_TEST_KEEP") == nullptr) {  // NOLINT(concurrency-mt-unsafe)
      fs::remove_all(*suite_root);
    }
    delete suite_root;
    delete suite_setup_error;
  }

  void SetUp() override {
    ASSERT_TRUE(suite_setup_error->empty()) << *suite_setup_error;
    local_ = *suite_root / "local";
    fs::create_directories(local_);
  }

  SftpOptions options_for(const SshServer& server) const {
    SftpOptions options;
    options.hostname = "127.0.0.1";
    options.port = server.port();
    options.username = current_user();
    options.base_dir = remote_dir().string();
    options.private_key_file = server.user_key_path().string();
    options.public_key_file = server.user_public_key_path().string();
    options.known_hosts_file = server.known_hosts_path().string();
    options.timeout = std::chrono::seconds(10);
    options.retry_delay = std::chrono::milliseconds(50);
    return options;
  }
  SftpOptions options() const { return options_for(*suite_server); }

  fs::path remote_dir() const {
    return *suite_root / "remote" / ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  std::unique_ptr<Storage> connect(const SftpOptions& options) {
    auto storage = make_sftp_storage(options);
    EXPECT_TRUE(storage) << storage.error().message();
    return storage ? std::move(*storage) : nullptr;
  }

  std::string local_file(const std::string& name, std::string_view content) {
    fs::path path = local_ / name;
    write_text(path, content);
    return path.string();
  }

  static Result<std::string> fetch(Storage& storage, std::string_view key, uint64_t offset = 0,
                                   std::optional<uint64_t> length = std::nullopt) {
    std::string out;
    auto result = storage.get(key, offset, length, [&](std::span<const uint8_t> bytes) {
      out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      return Result<void>();
    });
    if (!result) {
      return tl::unexpected<Error>(result.error());
    }
    return out;
  }

  static std::vector<std::string> keys_of(const std::vector<ObjectInfo>& objects) {
    std::vector<std::string> keys;
    keys.reserve(objects.size());
    for (const ObjectInfo& object : objects) {
      keys.push_back(object.key);
    }
    return keys;
  }

  static std::vector<std::string> files_under(const fs::path& dir) {
    std::vector<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (entry.is_regular_file()) {
        files.push_back(fs::relative(entry.path(), dir).string());
      }
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  static fs::path* suite_root;
  static SshServer* suite_server;
  static std::string* suite_setup_error;
  fs::path local_;
};

fs::path* SftpStorageTest::suite_root = nullptr;
SshServer* SftpStorageTest::suite_server = nullptr;
std::string* SftpStorageTest::suite_setup_error = nullptr;

TEST_F(SftpStorageTest, RoundTripsASmallObject) {
  auto storage = connect(options());
  ASSERT_TRUE(storage);
  EXPECT_EQ(storage->name(), "ssh");
  ASSERT_TRUE(storage->put_file("primary/wal/000000010000000000000001",
                                local_file("small", "hello, sftp"), fake_digest()));

  auto info = storage->head("primary/wal/000000010000000000000001");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->key, "primary/wal/000000010000000000000001");
  EXPECT_EQ(info->size, 11U);
  EXPECT_EQ(info->sha512, fake_digest());
  auto bytes = fetch(*storage, "primary/wal/000000010000000000000001");
  ASSERT_TRUE(bytes) << bytes.error().message();
  EXPECT_EQ(*bytes, "hello, sftp");

  // On the server: object + digest side file, no temp leftovers, private modes.
  EXPECT_EQ(files_under(remote_dir()),
            (std::vector<std::string>{"primary/wal/000000010000000000000001",
                                      "primary/wal/000000010000000000000001.pgm-sha512"}));
  EXPECT_EQ(read_text(remote_dir() / "primary/wal/000000010000000000000001.pgm-sha512"),
            fake_digest() + "\n");
  EXPECT_EQ(fs::status(remote_dir() / "primary/wal/000000010000000000000001").permissions(),
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(remote_dir() / "primary/wal").permissions(), fs::perms::owner_all);
}

TEST_F(SftpStorageTest, RoundTripsAnObjectOfManyChunks) {
  auto storage = connect(options());
  ASSERT_TRUE(storage);
  std::string content = random_string(size_t{3} * 1024 * 1024 + 12345, 1);
  ASSERT_TRUE(storage->put_file("b/data", local_file("big", content), fake_digest()));
  auto info = storage->head("b/data");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, content.size());
  auto bytes = fetch(*storage, "b/data");
  ASSERT_TRUE(bytes) << bytes.error().message();
  EXPECT_TRUE(*bytes == content);
  EXPECT_EQ(files_under(remote_dir()), (std::vector<std::string>{"b/data", "b/data.pgm-sha512"}));
}

TEST_F(SftpStorageTest, GetsARange) {
  auto storage = connect(options());
  ASSERT_TRUE(storage);
  std::string content = random_string(300000, 2);
  ASSERT_TRUE(storage->put_file("r", local_file("range", content), fake_digest()));
  auto middle = fetch(*storage, "r", 70000, 100000);
  ASSERT_TRUE(middle) << middle.error().message();
  EXPECT_TRUE(*middle == content.substr(70000, 100000));
  auto tail = fetch(*storage, "r", 299990);
  ASSERT_TRUE(tail);
  EXPECT_EQ(*tail, content.substr(299990));
  auto empty = fetch(*storage, "r", 10, 0);
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "");
}

TEST_F(SftpStorageTest, PutReplacesAnExistingObject) {
  auto storage = connect(options());
  ASSERT_TRUE(storage);
  ASSERT_TRUE(storage->put_file("k", local_file("one", "first version"), fake_digest()));
  std::string other(128, 'b');
  auto put = storage->put_file("k", local_file("two", "second"), other);
  ASSERT_TRUE(put) << put.error().message();
  EXPECT_EQ(*fetch(*storage, "k"), "second");
  EXPECT_EQ(storage->head("k")->sha512, other);
  EXPECT_EQ(files_under(remote_dir()), (std::vector<std::string>{"k", "k.pgm-sha512"}));
}

TEST_F(SftpStorageTest, ListsByPrefixThroughNestedDirectories) {
  auto storage = connect(options());
  ASSERT_TRUE(storage);
  std::string file = local_file("x", "12345");
  for (const char* key : {"a/1", "a/b/2", "a/b/c/3", "ab/4", "c"}) {
    ASSERT_TRUE(storage->put_file(key, file, fake_digest()));
  }
  write_text(remote_dir() / "a/b/leftover.tmp.4242", "partial");  // a crashed upload

  auto all = storage->list("");
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_EQ(keys_of(*all), (std::vector<std::string>{"a/1", "a/b/2", "a/b/c/3", "ab/4", "c"}));
  EXPECT_EQ((*all)[0].size, 5U);
  EXPECT_EQ(keys_of(*storage->list("a/")), (std::vector<std::string>{"a/1", "a/b/2", "a/b/c/3"}));
  EXPECT_EQ(keys_of(*storage->list("a")),
            (std::vector<std::string>{"a/1", "a/b/2", "a/b/c/3", "ab/4"}));
  EXPECT_EQ(keys_of(*storage->list("a/b/c")), (std::vector<std::string>{"a/b/c/3"}));
  EXPECT_EQ(keys_of(*storage->list("a/b/")), (std::vector<std::string>{"a/b/2", "a/b/c/3"}));
  auto none = storage->list("zz/y");
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_TRUE(none->empty());
}

TEST_F(SftpStorageTest, RemoveDeletesObjectsAndToleratesMissingOnes) {
  auto storage = connect(options());
  ASSERT_TRUE(storage);
  std::string file = local_file("x", "abc");
  ASSERT_TRUE(storage->put_file("d/1", file, fake_digest()));
  ASSERT_TRUE(storage->put_file("d/2", file, fake_digest()));
  std::vector<std::string> keys{"d/1", "d/missing", "nothing/here"};
  auto removed = storage->remove(keys);
  ASSERT_TRUE(removed) << removed.error().message();
  EXPECT_EQ(kind(storage->head("d/1").error()), ErrorKind::kNotFound);
  EXPECT_EQ(keys_of(*storage->list("")), (std::vector<std::string>{"d/2"}));
  EXPECT_EQ(files_under(remote_dir()), (std::vector<std::string>{"d/2", "d/2.pgm-sha512"}));
  std::vector<std::string> last{"d/2"};
  ASSERT_TRUE(storage->remove(last));
  EXPECT_FALSE(fs::exists(remote_dir() / "d"));  // emptied directories go too
}

TEST_F(SftpStorageTest, MissingKeyIsNotFound) {
  auto storage = connect(options());
  ASSERT_TRUE(storage);
  auto info = storage->head("no/such/key");
  ASSERT_FALSE(info);
  EXPECT_EQ(kind(info.error()), ErrorKind::kNotFound) << info.error().message();
  EXPECT_NE(info.error().message().find("ssh: head no/such/key"), std::string::npos)
      << info.error().message();
  auto bytes = fetch(*storage, "no/such/key");
  ASSERT_FALSE(bytes);
  EXPECT_EQ(kind(bytes.error()), ErrorKind::kNotFound) << bytes.error().message();
}

TEST_F(SftpStorageTest, SinkErrorStopsTheDownloadWithoutRetry) {
  auto storage = connect(options());
  ASSERT_TRUE(storage);
  ASSERT_TRUE(storage->put_file("s", local_file("s", random_string(200000, 3)), fake_digest()));
  int calls = 0;
  auto result = storage->get("s", 0, std::nullopt, [&](std::span<const uint8_t>) {
    ++calls;
    return Result<void>(make_error(ErrorCode::kUnavailable, "sink full"));
  });
  ASSERT_FALSE(result);
  EXPECT_EQ(calls, 1);
  EXPECT_NE(result.error().message().find("sink full"), std::string::npos);
}

TEST_F(SftpStorageTest, RejectsBadKeysAndDigests) {
  auto storage = connect(options());
  ASSERT_TRUE(storage);
  std::string file = local_file("x", "abc");
  for (const char* key : {"", "/abs", "a/../b", "a//b", "x.pgm-sha512", "x.tmp.12"}) {
    auto put = storage->put_file(key, file, fake_digest());
    ASSERT_FALSE(put) << key;
    EXPECT_EQ(put.error().code(), ErrorCode::kInvalidArgument) << key;
  }
  EXPECT_FALSE(storage->put_file("ok", file, "not hex"));
  auto missing = storage->put_file("ok", (local_ / "absent").string(), fake_digest());
  ASSERT_FALSE(missing);
  EXPECT_EQ(kind(missing.error()), ErrorKind::kNotFound);
}

TEST_F(SftpStorageTest, WrongKeyIsRefused) {
  ASSERT_EQ(run_keygen(local_ / "stranger"), "");
  SftpOptions opts = options();
  opts.private_key_file = (local_ / "stranger").string();
  auto storage = make_sftp_storage(opts);
  ASSERT_FALSE(storage);
  EXPECT_EQ(kind(storage.error()), ErrorKind::kAuth);
  const std::string& message = storage.error().message();
  EXPECT_NE(message.find("user " + current_user()), std::string::npos) << message;
  EXPECT_NE(message.find(opts.private_key_file), std::string::npos) << message;
}

TEST_F(SftpStorageTest, UnknownHostIsRefusedByDefault) {
  SftpOptions opts = options();
  opts.known_hosts_file = (local_ / "empty_known_hosts").string();
  write_text(opts.known_hosts_file, "");
  auto storage = make_sftp_storage(opts);
  ASSERT_FALSE(storage);
  EXPECT_EQ(kind(storage.error()), ErrorKind::kAuth);
  EXPECT_NE(storage.error().message().find("not in known_hosts"), std::string::npos)
      << storage.error().message();
}

TEST_F(SftpStorageTest, AcceptNewHostTrustsOnFirstUse) {
  SftpOptions opts = options();
  opts.known_hosts_file = (local_ / "tofu_known_hosts").string();
  fs::remove(opts.known_hosts_file);
  opts.accept_new_host = true;
  auto first = make_sftp_storage(opts);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_NE(
      read_text(opts.known_hosts_file).find("[127.0.0.1]:" + std::to_string(suite_server->port())),
      std::string::npos);
  opts.accept_new_host = false;
  auto second = make_sftp_storage(opts);
  ASSERT_TRUE(second) << second.error().message();
}

TEST_F(SftpStorageTest, ChangedHostKeyIsRefused) {
  SshServer server(*suite_root / "changing");
  ASSERT_EQ(server.prepare(), "");
  ASSERT_EQ(server.start(), "");
  SftpOptions opts = options_for(server);
  ASSERT_TRUE(make_sftp_storage(opts));

  server.stop();
  ASSERT_EQ(server.regenerate_host_key(), "");
  ASSERT_EQ(server.start(), "");
  auto storage = make_sftp_storage(opts);
  ASSERT_FALSE(storage);
  EXPECT_EQ(kind(storage.error()), ErrorKind::kAuth);
  EXPECT_NE(storage.error().message().find(
                "ssh: the host key of 127.0.0.1:" + std::to_string(server.port()) + " has changed"),
            std::string::npos)
      << storage.error().message();
  EXPECT_NE(storage.error().message().find("man-in-the-middle"), std::string::npos);
  opts.accept_new_host = true;  // trust on first use never overrides a changed key
  EXPECT_FALSE(make_sftp_storage(opts));
}

TEST_F(SftpStorageTest, StoppedServerIsRetryableAndReconnects) {
  SshServer server(*suite_root / "stopping");
  ASSERT_EQ(server.prepare(), "");
  ASSERT_EQ(server.start(), "");
  SftpOptions opts = options_for(server);
  auto storage = connect(opts);
  ASSERT_TRUE(storage);
  ASSERT_TRUE(storage->put_file("x", local_file("x", "abc"), fake_digest()));

  server.stop();
  auto start = std::chrono::steady_clock::now();
  auto info = storage->head("x");
  ASSERT_FALSE(info);
  EXPECT_EQ(kind(info.error()), ErrorKind::kRetryable) << info.error().message();
  EXPECT_NE(info.error().message().find("giving up after 3 attempts"), std::string::npos)
      << info.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  auto refused = make_sftp_storage(opts);
  ASSERT_FALSE(refused);
  EXPECT_EQ(kind(refused.error()), ErrorKind::kRetryable) << refused.error().message();

  ASSERT_EQ(server.start(), "");
  auto again = storage->head("x");  // the same object reconnects
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->size, 3U);
}

TEST_F(SftpStorageTest, ServerRestartBetweenOperationsIsRetriedTransparently) {
  SshServer server(*suite_root / "restarting");
  ASSERT_EQ(server.prepare(), "");
  ASSERT_EQ(server.start(), "");
  auto storage = connect(options_for(server));
  ASSERT_TRUE(storage);
  server.stop();
  ASSERT_EQ(server.start(), "");
  auto put = storage->put_file("y", local_file("y", "after restart"), fake_digest());
  ASSERT_TRUE(put) << put.error().message();
  EXPECT_EQ(*fetch(*storage, "y"), "after restart");
}

TEST_F(SftpStorageTest, DownloadResumesWhenTheServerRestartsMidway) {
  SshServer server(*suite_root / "midway");
  ASSERT_EQ(server.prepare(), "");
  ASSERT_EQ(server.start(), "");
  auto storage = connect(options_for(server));
  ASSERT_TRUE(storage);
  std::string content = random_string(size_t{1024} * 1024, 5);
  ASSERT_TRUE(storage->put_file("m", local_file("m", content), fake_digest()));
  std::string got;
  bool restarted = false;
  auto result = storage->get("m", 0, std::nullopt, [&](std::span<const uint8_t> bytes) {
    got.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (!restarted) {
      restarted = true;
      server.stop();  // the session dies under the running download
      EXPECT_EQ(server.start(), "");
    }
    return Result<void>();
  });
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_TRUE(restarted);
  EXPECT_EQ(got.size(), content.size());
  EXPECT_TRUE(got == content);
}

TEST_F(SftpStorageTest, ServerStoppedDuringADownloadIsRetryable) {
  SshServer server(*suite_root / "dying");
  ASSERT_EQ(server.prepare(), "");
  ASSERT_EQ(server.start(), "");
  auto storage = connect(options_for(server));
  ASSERT_TRUE(storage);
  ASSERT_TRUE(storage->put_file("d", local_file("d", random_string(size_t{1024} * 1024, 6)),
                                fake_digest()));
  auto result = storage->get("d", 0, std::nullopt, [&](std::span<const uint8_t>) {
    server.stop();
    return Result<void>();
  });
  ASSERT_FALSE(result);
  EXPECT_EQ(kind(result.error()), ErrorKind::kRetryable) << result.error().message();
  EXPECT_NE(result.error().message().find("ssh: get d"), std::string::npos)
      << result.error().message();
}

TEST_F(SftpStorageTest, SilentServerTimesOut) {
  // A socket that accepts connections (the kernel completes the handshake) but never speaks SSH.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  SftpOptions opts = options();
  opts.port = ntohs(address.sin_port);
  opts.timeout = std::chrono::seconds(1);
  auto start = std::chrono::steady_clock::now();
  auto storage = make_sftp_storage(opts);
  ::close(fd);
  ASSERT_FALSE(storage);
  EXPECT_EQ(storage.error().code(), ErrorCode::kTimeout) << storage.error().message();
  EXPECT_EQ(kind(storage.error()), ErrorKind::kRetryable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(SftpStorageTest, CiphersUsePgmonetaNames) {
  EXPECT_EQ(*openssh_cipher_list("aes-256-ctr"), "aes256-ctr");
  EXPECT_EQ(*openssh_cipher_list("aes-256-ctr, aes-192-ctr,AES-128-CTR"),
            "aes256-ctr,aes192-ctr,aes128-ctr");
  EXPECT_EQ(*openssh_cipher_list("aes-128-cbc,aes256-gcm@openssh.com"),
            "aes128-cbc,aes256-gcm@openssh.com");
  EXPECT_EQ(openssh_cipher_list("rot13").error().code(), ErrorCode::kConfig);
  EXPECT_EQ(openssh_cipher_list("aes-256-ctr,").error().code(), ErrorCode::kConfig);

  SftpOptions opts = options();
  opts.ciphers = "aes-256-ctr";
  auto storage = connect(opts);
  ASSERT_TRUE(storage);
  ASSERT_TRUE(storage->put_file("c", local_file("c", "ciphered"), fake_digest()));
  EXPECT_EQ(*fetch(*storage, "c"), "ciphered");
  opts.ciphers = "blowfish";
  auto bad = make_sftp_storage(opts);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kConfig);
}

TEST_F(SftpStorageTest, LargeTransferKeepsMemoryBounded) {
  constexpr size_t kBlock = size_t{1024} * 1024;
  constexpr size_t kBlocks = 101;  // 101 MiB
  std::string block = random_string(kBlock, 4);
  fs::path path = local_ / "large";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (size_t i = 0; i < kBlocks; ++i) {
      block[0] = static_cast<char>(i);
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
  }
  auto storage = connect(options());
  ASSERT_TRUE(storage);
  long before = status_kib("VmRSS");
  reset_peak_rss();
  ASSERT_TRUE(storage->put_file("large", path.string(), fake_digest()));

  std::ifstream expected(path, std::ios::binary);
  std::vector<char> compare;
  uint64_t total = 0;
  bool same = true;
  auto result = storage->get("large", 0, std::nullopt, [&](std::span<const uint8_t> bytes) {
    compare.resize(bytes.size());
    expected.read(compare.data(), static_cast<std::streamsize>(bytes.size()));
    same = same && std::memcmp(compare.data(), bytes.data(), bytes.size()) == 0;
    total += bytes.size();
    return Result<void>();
  });
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(total, kBlock * kBlocks);
  EXPECT_TRUE(same);
  long peak = status_kib("VmHWM");
  EXPECT_LT(peak - before, 64 * 1024) << "RSS grew from " << before << " KiB to " << peak << " KiB";
  EXPECT_EQ(files_under(remote_dir()), (std::vector<std::string>{"large", "large.pgm-sha512"}));
}

}  // namespace
}  // namespace pgm::storage
