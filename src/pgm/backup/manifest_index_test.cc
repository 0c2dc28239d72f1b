#include "pgm/backup/manifest_index.h"

#include <string>
#include <vector>

#include "support/temp_dir.h"
#include <fmt/format.h>
#include <gtest/gtest.h>

namespace pgm::backup {
namespace {

crypto::Sha512Digest digest_of(uint8_t byte) {
  crypto::Sha512Digest d{};
  d.fill(byte);
  return d;
}

TEST(PathArenaTest, ViewsStayValidAcrossChunks) {
  PathArena arena;
  std::vector<std::string_view> views;
  std::vector<std::string> expected;
  for (int i = 0; i < 20000; ++i) {
    expected.push_back(fmt::format("base/{}/{}", i % 7, 16384 + i));
    views.push_back(arena.add(expected.back()));
  }
  const std::string big(100000, 'x');  // longer than a chunk
  std::string_view big_view = arena.add(big);
  PathArena moved = std::move(arena);
  for (size_t i = 0; i < views.size(); ++i) {
    ASSERT_EQ(views[i], expected[i]);
  }
  EXPECT_EQ(big_view, big);
  EXPECT_LT(moved.allocated(), size_t{1} << 20);
}

TEST(ManifestIndexTest, LoadsSortsAndFinds) {
  test_support::TempDir dir;
  const std::string a = crypto::Sha512::hex(digest_of(0xaa));
  const std::string b = crypto::Sha512::hex(digest_of(0xbb));
  // Unsorted, with an empty line and upper-case hex, as pgmoneta's own may be.
  std::string upper = b;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  test_support::write_text(dir.file("backup.manifest"),
                           "base/5/2," + a + "\n\nbase/5/1," + upper + "\nname,with,commas," + a);
  auto index = ManifestIndex::load(dir.file("backup.manifest"));
  ASSERT_TRUE(index) << index.error().message();
  ASSERT_EQ(index->size(), 3u);
  EXPECT_EQ(index->path(0), "base/5/1");
  EXPECT_EQ(index->path(1), "base/5/2");
  ASSERT_NE(index->find("base/5/1"), nullptr);
  EXPECT_EQ(*index->find("base/5/1"), digest_of(0xbb));
  ASSERT_NE(index->find("name,with,commas"), nullptr);
  EXPECT_EQ(*index->find("name,with,commas"), digest_of(0xaa));
  EXPECT_EQ(index->find("base/5"), nullptr);
  EXPECT_EQ(index->lookup("zzz"), index->size());
}

TEST(ManifestIndexTest, NamesTheBadLine) {
  test_support::TempDir dir;
  const std::string a = crypto::Sha512::hex(digest_of(0xaa));
  test_support::write_text(dir.file("backup.manifest"), "a," + a + "\nb,nothex\n");
  auto index = ManifestIndex::load(dir.file("backup.manifest"));
  ASSERT_FALSE(index);
  EXPECT_EQ(index.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(index.error().message().find("backup.manifest line 2"), std::string::npos)
      << index.error().message();
  auto missing = ManifestIndex::load(dir.file("absent"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST(Sha512LineTest, ParsesBothSeparatorsAndRejectsDamage) {
  const std::string a = crypto::Sha512::hex(digest_of(0xaa));
  auto binary = parse_sha512_line(a + " *./data/base/1/1.zstd", 1);
  ASSERT_TRUE(binary) << binary.error().message();
  EXPECT_EQ(binary->path, "data/base/1/1.zstd");
  EXPECT_EQ(binary->sha512, digest_of(0xaa));
  auto text = parse_sha512_line(a + "  backup.info", 2);
  ASSERT_TRUE(text);
  EXPECT_EQ(text->path, "backup.info");
  for (const std::string& bad : {a + " *", a.substr(1) + " *x", a + " -x", "\\" + a + " *x"}) {
    auto r = parse_sha512_line(bad, 7);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("line 7"), std::string::npos);
  }
}

}  // namespace
}  // namespace pgm::backup
