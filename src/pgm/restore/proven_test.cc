#include "pgm/restore/proven.h"

#include <gtest/gtest.h>

#include "pgm/backup/info.h"

namespace pgm::restore {
namespace {

backup::BackupInfo info_with_unknown_keys() {
  backup::BackupInfo info;
  info.label = "20260101120000";
  info.extra_keys = {{"FUTURE_KEY", "x"}, {"OTHER", "y"}};
  return info;
}

TEST(ProvenKeysTest, AppendsTheKeysAfterUnknownOnes) {
  backup::BackupInfo info = info_with_unknown_keys();
  ProvenResult r;
  r.ok = true;
  r.total_elapsed = backup::Seconds(12.5);
  set_proven_keys(info, r, std::chrono::system_clock::now());
  ASSERT_EQ(info.extra_keys.size(), 6u);
  EXPECT_EQ(info.extra_keys[0].first, "FUTURE_KEY");
  EXPECT_EQ(info.extra_keys[2], std::make_pair(std::string("PROVEN_RESTORE"), std::string("1")));
  EXPECT_EQ(info.extra_keys[3].first, "PROVEN_RESTORE_TIME");
  EXPECT_TRUE(backup::is_label(info.extra_keys[3].second));
  EXPECT_EQ(info.extra_keys[4].second, "12.5000");
  EXPECT_EQ(info.extra_keys[5],
            std::make_pair(std::string("PROVEN_RESTORE_REASON"), std::string()));
}

TEST(ProvenKeysTest, ReplacesValuesInPlaceAndKeepsTheReasonOnOneLine) {
  backup::BackupInfo info = info_with_unknown_keys();
  ProvenResult good;
  good.ok = true;
  set_proven_keys(info, good, std::chrono::system_clock::now());
  ProvenResult bad;
  bad.reason = "FATAL:  incorrect checksum\nin control file";
  set_proven_keys(info, bad, std::chrono::system_clock::now());
  ASSERT_EQ(info.extra_keys.size(), 6u);
  EXPECT_EQ(info.extra_keys[2].second, "0");
  EXPECT_EQ(info.extra_keys[5].second, "FATAL: incorrect checksum in control file");
  auto parsed = backup::parse_backup_info(backup::format_backup_info(info));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  EXPECT_EQ(parsed->extra_keys, info.extra_keys);
}

TEST(ProveRestoreTest, FailsClearlyWithoutAServerBinary) {
  ProvenOptions o;
  o.server = "s";
  o.info.label = "20260101120000";
  o.info.major_version = 15;
  o.pg_bin_dir = "/nonexistent/bin";
  o.workspace = "/nonexistent/ws";
  auto r = prove_restore(o);
  ASSERT_FALSE(r.has_value());
  // root is refused before anything else (PostgreSQL refuses to run as root).
  EXPECT_TRUE(r.error().code() == ErrorCode::kNotFound ||
              r.error().code() == ErrorCode::kPermission)
      << r.error().message();
}

}  // namespace
}  // namespace pgm::restore
