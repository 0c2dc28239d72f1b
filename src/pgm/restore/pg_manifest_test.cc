#include "pgm/restore/pg_manifest.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pgm/crypto/digest.h"

namespace pgm::restore {
namespace {

// A manifest as PostgreSQL 17 writes one for an incremental backup, with a valid checksum.
std::string sample_manifest() {
  std::string body =
      "{ \"PostgreSQL-Backup-Manifest-Version\": 2,\n"
      "\"System-Identifier\": 7412345678901234567,\n"
      "\"Files\": [\n"
      "{ \"Path\": \"backup_label\", \"Size\": 225, \"Last-Modified\": \"2026-12-07 10:00:00 "
      "GMT\", \"Checksum-Algorithm\": \"SHA512\", \"Checksum\": \"aa\" },\n"
      "{ \"Path\": \"base/5/INCREMENTAL.16384\", \"Size\": 8204, \"Last-Modified\": "
      "\"2026-12-07 10:00:01 GMT\", \"Checksum-Algorithm\": \"SHA512\", \"Checksum\": \"bb\" },\n"
      "{ \"Path\": \"global/INCREMENTAL.1262\", \"Size\": 12, \"Last-Modified\": \"2026-12-07 "
      "10:00:02 GMT\", \"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"0badf00d\" },\n"
      "{ \"Path\": \"global/pg_control\", \"Size\": 8192, \"Last-Modified\": \"2026-12-07 "
      "10:00:03 GMT\", \"Checksum-Algorithm\": \"SHA512\", \"Checksum\": \"cc\" }\n"
      "],\n"
      "\"WAL-Ranges\": [\n"
      "{ \"Timeline\": 1, \"Start-LSN\": \"0/4000028\", \"End-LSN\": \"0/4000138\" }\n"
      "],\n";
  return body + "\"Manifest-Checksum\": \"" +
         crypto::to_hex(crypto::sha256(crypto::bytes_of(body))) + "\"}\n";
}

std::map<std::string, RebuiltManifestFile> rebuilt_files() {
  return {{"base/5/16384", {.size = 16384, .sha512 = "dd", .crc32c = "11111111"}},
          {"global/1262", {.size = 8192, .sha512 = "ee", .crc32c = "22222222"}}};
}

TEST(PgManifestTest, IncrementalEntriesBecomeTheRebuiltFilesAndTheChecksumIsRecomputed) {
  const std::string in = sample_manifest();
  ASSERT_TRUE(lists_incremental_files(in));
  auto out = manifest_for_rebuilt(in, rebuilt_files());
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_FALSE(lists_incremental_files(*out)) << *out;

  nlohmann::json doc = nlohmann::json::parse(*out);
  ASSERT_EQ(doc["Files"].size(), 4u);
  EXPECT_EQ(doc["Files"][0]["Checksum"], "aa");  // untouched
  EXPECT_EQ(doc["Files"][1]["Path"], "base/5/16384");
  EXPECT_EQ(doc["Files"][1]["Size"], 16384);
  EXPECT_EQ(doc["Files"][1]["Last-Modified"], "2026-12-07 10:00:01 GMT");
  EXPECT_EQ(doc["Files"][1]["Checksum"], "dd");
  EXPECT_EQ(doc["Files"][2]["Path"], "global/1262");
  EXPECT_EQ(doc["Files"][2]["Checksum-Algorithm"], "CRC32C");
  EXPECT_EQ(doc["Files"][2]["Checksum"], "22222222");
  EXPECT_EQ(doc["WAL-Ranges"][0]["End-LSN"], "0/4000138");

  // pg_verifybackup's rule: SHA-256 of everything through the next-to-last newline.
  const size_t last_line = out->rfind('\n', out->size() - 2) + 1;
  EXPECT_EQ(doc["Manifest-Checksum"],
            crypto::to_hex(crypto::sha256(crypto::bytes_of(out->substr(0, last_line)))));
  // The lines that did not change are byte for byte PostgreSQL's.
  EXPECT_EQ(out->substr(0, in.find("{ \"Path\": \"base")),
            in.substr(0, in.find("{ \"Path\": \"base")));
  EXPECT_NE(out->find("\"global/pg_control\", \"Size\": 8192"), std::string::npos);
}

TEST(PgManifestTest, AManifestWithoutIncrementalFilesComesBackUnchanged) {
  std::string in = sample_manifest();
  auto out = manifest_for_rebuilt(in, rebuilt_files());
  ASSERT_TRUE(out);
  auto again = manifest_for_rebuilt(*out, {});
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, *out);
}

TEST(PgManifestTest, AnIncrementalFileTheRestoreDidNotRebuildIsAnError) {
  auto rebuilt = rebuilt_files();
  rebuilt.erase("global/1262");
  auto out = manifest_for_rebuilt(sample_manifest(), rebuilt);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message().find("global/INCREMENTAL.1262"), std::string::npos)
      << out.error().message();
}

TEST(PgManifestTest, TextThatIsNotAManifestIsRefused) {
  for (const std::string& text : {std::string(), std::string("{}\n"),
                                  std::string("{ \"Files\": [\n{ \"Path\": oops\n\"Manifest-"
                                              "Checksum\": \"00\"}\n")}) {
    auto out = manifest_for_rebuilt(text, rebuilt_files());
    ASSERT_FALSE(out) << text;
    EXPECT_EQ(out.error().code(), ErrorCode::kCorruption);
    EXPECT_NE(out.error().message().find("backup_manifest"), std::string::npos);
  }
}

}  // namespace
}  // namespace pgm::restore
