#include "pgm/backup/postgres_manifest.h"

#include <algorithm>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pgm/crypto/digest.h"

namespace pgm::backup {
namespace {

const std::string kA(128, 'a');
const std::string kB(128, 'b');

// A file entry as PostgreSQL writes it, with the keys we skip around the ones we read.
std::string entry(const std::string& path, const std::string& checksum,
                  const std::string& algorithm = "SHA512") {
  return fmt::format(R"({{"Path": "{}", "Size": 8192, "Last-Modified": "2026-12-07 21:00:00 GMT", )"
                     R"("Checksum-Algorithm": "{}", "Checksum": "{}"}})",
                     path, algorithm, checksum);
}

std::string manifest(const std::vector<std::string>& entries) {
  std::string files;
  for (const std::string& e : entries) {
    files += (files.empty() ? "" : ",\n") + e;
  }
  return R"({"PostgreSQL-Backup-Manifest-Version": 1, "System-Identifier": 7, "Files": [)" + files +
         R"(], "WAL-Ranges": [{"Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100"}],)"
         R"( "Manifest-Checksum": "00"})";
}

TEST(PostgresManifestTest, FileAndTextGiveTheSameVerdict) {
  test_support::TempDir dir;
  std::vector<std::string> entries;
  std::vector<std::string> paths;
  for (int i = 0; i < 2000; ++i) {
    paths.push_back(fmt::format("base/5/{}", 16384 + i));
  }
  for (const std::string& p : paths) {
    entries.push_back(entry(p, p == "base/5/16500" ? kB : kA));
  }
  entries.push_back(entry("only_theirs", kA));
  const std::string text = manifest(entries);
  test_support::write_text(dir.file("backup_manifest"), text);

  std::vector<ManifestEntryRef> ours;
  for (const std::string& p : paths) {
    ours.push_back({p, kA, ""});
  }
  const std::string only_ours = "only_ours";
  ours.push_back({only_ours, kA, ""});

  auto from_text = compare_with_postgres_manifest(ours, text);
  auto from_file = compare_with_postgres_manifest_file(ours, dir.file("backup_manifest"));
  ASSERT_TRUE(from_text) << from_text.error().message();
  ASSERT_TRUE(from_file) << from_file.error().message();
  std::vector<ManifestMismatch> expected = {
      {ManifestMismatch::Kind::kChecksumDiffers, "base/5/16500", kA, kB},
      {ManifestMismatch::Kind::kMissingInOurs, "only_theirs", "", kA},
      {ManifestMismatch::Kind::kMissingInPostgres, "only_ours", kA, ""},
  };
  std::sort(expected.begin(), expected.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  EXPECT_EQ(*from_text, expected);
  EXPECT_EQ(*from_file, expected);
}

TEST(PostgresManifestTest, ComparesCrc32cAndIgnoresCase) {
  const std::string upper_a(128, 'A');
  std::vector<ManifestEntryRef> ours = {{"a", kA, "0A0B0C0D"}, {"b", kA, "00000000"}};
  auto result = compare_with_postgres_manifest(
      ours, manifest({entry("a", "0a0b0c0d", "CRC32C"), entry("b", upper_a)}));
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_TRUE(result->empty());
  auto differs = compare_with_postgres_manifest(
      ours, manifest({entry("a", "ffffffff", "CRC32C"), entry("b", kA)}));
  ASSERT_TRUE(differs);
  ASSERT_EQ(differs->size(), 1u);
  EXPECT_EQ((*differs)[0].ours, "crc32c:0a0b0c0d");
  EXPECT_EQ((*differs)[0].postgres, "crc32c:ffffffff");
}

TEST(PostgresManifestTest, SkipsContainersItDoesNotRead) {
  // Values we do not read may be objects or arrays, in an entry or beside Files; a "Files" key
  // deeper down is not the Files array.
  std::string text =
      R"({"Extra": {"Files": 3, "List": [1, [2, {"Path": "x"}]]}, "Files": [)"
      R"({"Path": "a", "Odd": {"Checksum": "zz"}, "More": [{}, []], "Checksum-Algorithm": )"
      R"("SHA512", "Checksum": ")" +
      kA + R"("}], "After": [{"Path": "b"}]})";
  std::vector<ManifestEntryRef> ours = {{"a", kA, ""}};
  auto result = compare_with_postgres_manifest(ours, text);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_TRUE(result->empty());
}

TEST(PostgresManifestTest, NamesTheBadEntryAndTheUnreadableFile) {
  std::vector<ManifestEntryRef> ours;
  auto bad = compare_with_postgres_manifest(ours, manifest({entry("a", kA), "7"}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(bad.error().message().find("Files[1]"), std::string::npos) << bad.error().message();
  auto truncated = compare_with_postgres_manifest(ours, manifest({entry("a", kA)}).substr(0, 90));
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().code(), ErrorCode::kCorruption);
  auto missing = compare_with_postgres_manifest_file(ours, "/nonexistent/backup_manifest");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("/nonexistent/backup_manifest"), std::string::npos);
}

// Binary checksums (a backup's own list) give the verdicts hex ones give, sorted or not.
TEST(PostgresManifestTest, BinaryChecksumsCompareAsHexOnes) {
  const crypto::Sha512Digest a = *crypto::sha512_from_hex(kA);
  const crypto::Sha512Digest b = *crypto::sha512_from_hex(kB);
  const std::string text = manifest(
      {entry("base/1/1", kA), entry("base/1/2", kA), entry("base/1/3", "0a0b0c0d", "CRC32C")});
  // CRC-32C 0x0d0c0b0a is written byte by byte from the low end, as PostgreSQL does.
  const std::vector<ManifestDigestRef> sorted = {
      {"base/1/1", &a, std::nullopt}, {"base/1/2", &b, std::nullopt}, {"base/1/3", &a, 0x0d0c0b0a}};
  for (bool reversed : {false, true}) {
    std::vector<ManifestDigestRef> ours = sorted;
    if (reversed) {
      std::reverse(ours.begin(), ours.end());
    }
    auto result = compare_with_postgres_manifest(std::span<const ManifestDigestRef>(ours), text);
    ASSERT_TRUE(result.has_value()) << result.error().message();
    ASSERT_EQ(result->size(), 1u);
    EXPECT_EQ((*result)[0],
              (ManifestMismatch{ManifestMismatch::Kind::kChecksumDiffers, "base/1/2", kB, kA}));
  }
}

}  // namespace
}  // namespace pgm::backup
