#include "pgm/storage/storage.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "support/temp_dir.h"
#include <gtest/gtest.h>

namespace pgm::storage {
namespace {

// An in-memory engine: just enough to drive download_verified.
class MemoryStorage : public Storage {
 public:
  std::string name() const override { return "memory"; }
  Result<void> put_file(std::string_view key, const std::string& path,
                        std::string_view sha512_hex) override {
    std::ifstream in(path, std::ios::binary);
    objects_[std::string(key)] = {std::string(std::istreambuf_iterator<char>(in), {}),
                                  std::string(sha512_hex)};
    return {};
  }
  Result<ObjectInfo> head(std::string_view key) override {
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) {
      return make_error(ErrorCode::kNotFound, "memory: no such key");
    }
    return ObjectInfo{it->first, it->second.first.size(), it->second.second};
  }
  Result<void> get(std::string_view key, uint64_t offset, std::optional<uint64_t> length,
                   const Sink& sink) override {
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) {
      return make_error(ErrorCode::kNotFound, "memory: no such key");
    }
    std::string data = it->second.first.substr(offset, length.value_or(std::string::npos));
    // Two calls, as a network engine would make.
    size_t half = data.size() / 2;
    PGM_TRY(sink(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), half)));
    return sink(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()) + half,
                                         data.size() - half));
  }
  Result<std::vector<ObjectInfo>> list(std::string_view) override { return {}; }
  Result<void> remove(std::span<const std::string>) override { return {}; }

  std::map<std::string, std::pair<std::string, std::string>> objects_;
};

class StorageTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& data) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << data;
    return path;
  }
  std::vector<std::string> files() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      out.push_back(e.path().filename());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  test_support::TempDir tmp_{"pgm-storage"};
  std::string dir_ = tmp_.path();
};

TEST_F(StorageTest, ErrorKinds) {
  EXPECT_EQ(kind(Error(ErrorCode::kPermission, "x")), ErrorKind::kAuth);
  EXPECT_EQ(kind(Error(ErrorCode::kNotFound, "x")), ErrorKind::kNotFound);
  EXPECT_EQ(kind(Error(ErrorCode::kUnavailable, "x")), ErrorKind::kRetryable);
  EXPECT_EQ(kind(Error(ErrorCode::kTimeout, "x")), ErrorKind::kRetryable);
  EXPECT_EQ(kind(Error(ErrorCode::kIo, "x")), ErrorKind::kPermanent);
}

TEST_F(StorageTest, Sha512OfFileKnownAnswer) {
  auto h = sha512_of_file(write("abc", "abc"));
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(*h,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba"
            "3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_FALSE(sha512_of_file(dir_ + "/missing"));
}

TEST_F(StorageTest, DownloadVerifiedWritesOnlyAProvenFile) {
  MemoryStorage s;
  std::string source = write("source", std::string(100000, 'x') + "end");
  auto sha = sha512_of_file(source);
  ASSERT_TRUE(sha);
  ASSERT_TRUE(s.put_file("a/b", source, *sha));
  std::string dest = dir_ + "/dest";
  auto r = download_verified(s, "a/b", dest);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(sha512_of_file(dest).value(), *sha);
  EXPECT_EQ(files(), (std::vector<std::string>{"dest", "source"}));  // no temp left
}

TEST_F(StorageTest, CorruptedObjectIsRefusedAndLeavesNothing) {
  MemoryStorage s;
  std::string source = write("source", "the original bytes");
  ASSERT_TRUE(s.put_file("k", source, sha512_of_file(source).value()));
  s.objects_["k"].first[3] ^= 0x01;  // one flipped bit on the server
  auto r = download_verified(s, "k", dir_ + "/dest");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(r.error().message().find("memory: k: SHA-512 mismatch"), std::string::npos)
      << r.error().message();
  EXPECT_EQ(files(), std::vector<std::string>{"source"});
}

TEST_F(StorageTest, ExistingDestinationIsNeverReplaced) {
  MemoryStorage s;
  std::string source = write("source", "new");
  ASSERT_TRUE(s.put_file("k", source, sha512_of_file(source).value()));
  std::string dest = write("dest", "precious");
  auto r = download_verified(s, "k", dest);
  ASSERT_FALSE(r);
  std::ifstream in(dest);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "precious");
  EXPECT_EQ(files(), (std::vector<std::string>{"dest", "source"}));
}

TEST_F(StorageTest, ObjectWithoutDigestCannotBeVerified) {
  MemoryStorage s;
  ASSERT_TRUE(s.put_file("k", write("source", "x"), ""));
  auto r = download_verified(s, "k", dir_ + "/dest");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
  EXPECT_FALSE(download_verified(s, "missing", dir_ + "/dest2"));
}

}  // namespace
}  // namespace pgm::storage
