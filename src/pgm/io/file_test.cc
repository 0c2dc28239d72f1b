#include "pgm/io/file.h"

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "support/temp_dir.h"
#include <gtest/gtest.h>
#include <sys/stat.h>

namespace pgm::io {
namespace {

class FileTest : public ::testing::Test {
 protected:
  test_support::TempDir tmp_{"pgm-io-test"};
  std::string dir_ = tmp_.path();
};

TEST_F(FileTest, AtomicWriteReplacesContentAndMode) {
  std::string path = dir_ + "/f";
  ASSERT_TRUE(write_file_atomic(path, "one", 0600));
  ASSERT_TRUE(write_file_atomic(path, "two", 0600));
  EXPECT_EQ(*read_file(path), "two");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(FileTest, UncommittedFileLeavesOldContent) {
  std::string path = dir_ + "/f";
  ASSERT_TRUE(write_file_atomic(path, "old", 0644));
  {
    auto f = AtomicFile::create(path, 0644);
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->write("new but abandoned"));
  }
  EXPECT_EQ(*read_file(path), "old");
  EXPECT_NE(::access((path + ".tmp." + std::to_string(::getpid())).c_str(), F_OK), 0);
}

TEST_F(FileTest, MissingFileIsNotFound) {
  auto r = read_file(dir_ + "/absent");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
}

TEST_F(FileTest, ConfigFilesMustBeSmallRegularFiles) {
  std::string good = dir_ + "/pgmoneta.conf";
  ASSERT_TRUE(write_file_atomic(good, "[pgmoneta]\n", 0600));
  EXPECT_EQ(*read_config_file(good), "[pgmoneta]\n");
  EXPECT_EQ(read_config_file(dir_ + "/absent").error().code(), ErrorCode::kNotFound);

  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& [path, kind] : {std::pair<std::string, std::string>{"/dev/zero", "a device"},
                                   {dir_, "a directory"},
                                   {fifo, "a FIFO"}}) {
    auto r = read_config_file(path);  // returns at once: nothing is read
    ASSERT_FALSE(r) << path;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message(),
              path + " is " + kind + "; a configuration file must be a regular file");
  }

  std::string big = dir_ + "/big.conf";
  ASSERT_TRUE(write_file_atomic(big, std::string(kMaxConfigFileBytes + 1, '#'), 0600));
  auto r = read_config_file(big);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("larger than the 1048576 bytes"), std::string::npos)
      << r.error().message();
  EXPECT_TRUE(read_config_file(big, kMaxConfigFileBytes + 1));
}

TEST_F(FileTest, ListDirectorySortsAndSkipsDots) {
  ASSERT_TRUE(write_file_atomic(dir_ + "/b", "1", 0600));
  ASSERT_TRUE(write_file_atomic(dir_ + "/a", "2", 0600));
  ASSERT_TRUE(make_directories(dir_ + "/c", 0700));
  auto names = list_directory(dir_);
  ASSERT_TRUE(names) << names.error().message();
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "c"}));
  auto missing = list_directory(dir_ + "/nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find(dir_ + "/nope"), std::string::npos);
}

TEST_F(FileTest, MakeDirectoriesCreatesParents) {
  std::string path = dir_ + "/a/b/c";
  ASSERT_TRUE(make_directories(path, 0700));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(FilesystemSpaceTest, MissingPathsUseTheirNearestAncestor) {
  auto tmp = filesystem_space("/tmp");
  ASSERT_TRUE(tmp.has_value());
  EXPECT_GT(tmp->total, 0u);
  EXPECT_LE(tmp->free, tmp->total);
  auto missing = filesystem_space("/tmp/pgm-no-such-dir/and/deeper");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->total, tmp->total);
  EXPECT_FALSE(filesystem_space("").has_value());
}

TEST_F(FileTest, ForEachLineReadsLinesAcrossPieces) {
  // Lines longer than a read piece, and a last line without its newline.
  std::string text;
  std::vector<std::string> expected;
  for (int i = 0; i < 3000; ++i) {
    expected.push_back(std::string(static_cast<size_t>(i % 97), static_cast<char>('a' + i % 26)));
  }
  expected.push_back(std::string(200000, 'z'));
  expected.push_back("last");
  for (size_t i = 0; i < expected.size(); ++i) {
    text += expected[i] + (i + 1 < expected.size() ? "\n" : "");
  }
  test_support::write_text(tmp_.file("lines"), text);
  std::vector<std::string> seen;
  auto r =
      for_each_line(tmp_.file("lines"), [&](std::string_view line, size_t number) -> Result<void> {
        EXPECT_EQ(number, seen.size() + 1);
        seen.emplace_back(line);
        return {};
      });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(seen, expected);
  // The callback's error stops the walk and is returned as is.
  size_t calls = 0;
  auto stopped = for_each_line(tmp_.file("lines"), [&](std::string_view, size_t) -> Result<void> {
    return ++calls == 2 ? make_error(ErrorCode::kCorruption, "line 2") : Result<void>{};
  });
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().message(), "line 2");
  EXPECT_EQ(calls, 2u);
  auto missing = for_each_line(tmp_.file("absent"),
                               [](std::string_view, size_t) -> Result<void> { return {}; });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace pgm::io
