#include "pgm/backup/base_backup.h"

#include <gtest/gtest.h>

namespace pgm::backup {
namespace {

TEST(BaseBackupCommandTest, PostgreSQL15UsesTheParenthesizedSyntax) {
  BaseBackupOptions o;
  o.label = "pgmoneta_20260101000000";
  auto cmd = base_backup_command(150004, o);
  ASSERT_TRUE(cmd.has_value());
  EXPECT_EQ(*cmd,
            "BASE_BACKUP (LABEL 'pgmoneta_20260101000000', CHECKPOINT 'fast', WAL true, WAIT "
            "false, MANIFEST 'yes', MANIFEST_CHECKSUMS 'SHA512')");
}

TEST(BaseBackupCommandTest, IncrementalNeeds17) {
  BaseBackupOptions o;
  o.label = "pgmoneta_x";
  o.incremental = true;
  auto cmd = base_backup_command(170010, o);
  ASSERT_TRUE(cmd) << cmd.error().message();
  EXPECT_NE(cmd->find(", INCREMENTAL, MANIFEST 'yes'"), std::string::npos) << *cmd;
  for (int version : {160014, 150004, 130023}) {
    auto refused = base_backup_command(version, o);
    ASSERT_FALSE(refused) << version;
    EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
  }
  o.incremental = false;
  EXPECT_EQ(base_backup_command(170010, o)->find("INCREMENTAL"), std::string::npos);
}

TEST(BaseBackupCommandTest, RateAndServerCompression) {
  BaseBackupOptions o;
  o.label = "x";
  o.max_rate_kb = 10;  // below PostgreSQL's minimum of 32
  o.server_compression = compress::Algorithm::kZstd;
  o.server_level = 3;
  o.server_workers = 2;
  auto cmd = base_backup_command(160000, o);
  ASSERT_TRUE(cmd.has_value());
  EXPECT_EQ(*cmd,
            "BASE_BACKUP (LABEL 'x', CHECKPOINT 'fast', WAL true, WAIT false, MAX_RATE 32, "
            "COMPRESSION 'zstd', COMPRESSION_DETAIL 'level=3,workers=2', MANIFEST 'yes', "
            "MANIFEST_CHECKSUMS 'SHA512')");
}

TEST(BaseBackupCommandTest, LabelsAreQuoted) {
  BaseBackupOptions o;
  o.label = "it's";
  auto cmd = base_backup_command(150000, o);
  ASSERT_TRUE(cmd.has_value());
  EXPECT_NE(cmd->find("LABEL 'it''s'"), std::string::npos) << *cmd;
}

TEST(BaseBackupCommandTest, LegacySyntaxBefore15) {
  BaseBackupOptions o;
  o.label = "l";
  o.max_rate_kb = 2000000;  // above PostgreSQL's maximum
  auto cmd = base_backup_command(140010, o);
  ASSERT_TRUE(cmd.has_value());
  EXPECT_EQ(*cmd,
            "BASE_BACKUP LABEL 'l' FAST WAL NOWAIT MAX_RATE 1048576 MANIFEST 'yes' "
            "MANIFEST_CHECKSUMS 'SHA512'");
}

TEST(BaseBackupCommandTest, ServerCompressionNeeds15) {
  BaseBackupOptions o;
  o.server_compression = compress::Algorithm::kLz4;
  auto cmd = base_backup_command(130000, o);
  ASSERT_FALSE(cmd.has_value());
  EXPECT_EQ(cmd.error().code(), ErrorCode::kInvalidArgument);
}

TEST(BaseBackupCommandTest, Bzip2IsNotAServerMethod) {
  BaseBackupOptions o;
  o.server_compression = compress::Algorithm::kBzip2;
  EXPECT_FALSE(base_backup_command(150000, o).has_value());
}

}  // namespace
}  // namespace pgm::backup

#include "pgm/backup/crc32c.h"

namespace pgm::backup {
namespace {

TEST(Crc32cTest, KnownAnswers) {
  // RFC 3720 B.4 / the usual check value of "123456789".
  std::string text = "123456789";
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  EXPECT_EQ(crc32c_final(crc32c_update(kCrc32cInit, bytes)), 0xE3069283u);
  std::vector<uint8_t> zeros(32, 0);
  EXPECT_EQ(crc32c_final(crc32c_update(kCrc32cInit, zeros)), 0x8A9136AAu);
}

TEST(Crc32cTest, RunningValueEqualsOneShot) {
  std::vector<uint8_t> data(10007);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
  uint32_t whole = crc32c_update(kCrc32cInit, data);
  uint32_t parts = kCrc32cInit;
  for (size_t at = 0; at < data.size(); at += 13) {
    parts =
        crc32c_update(parts, std::span(data).subspan(at, std::min<size_t>(13, data.size() - at)));
  }
  EXPECT_EQ(whole, parts);
}

TEST(Crc32cTest, ManifestHexIsLittleEndian) {
  EXPECT_EQ(crc32c_manifest_hex(0x12345678u), "78563412");
}

}  // namespace
}  // namespace pgm::backup

namespace pgm::backup {
namespace {

TEST(BaseBackupCommandTest, Crc32cManifest) {
  BaseBackupOptions o;
  o.label = "l";
  o.crc32c_manifest = true;
  EXPECT_NE(base_backup_command(150000, o)->find("MANIFEST_CHECKSUMS 'CRC32C')"),
            std::string::npos);
  EXPECT_NE(base_backup_command(140000, o)->find("MANIFEST_CHECKSUMS 'CRC32C'"), std::string::npos);
}

}  // namespace
}  // namespace pgm::backup
