#include "pgm/daemon/continuity.h"

#include <gtest/gtest.h>

namespace pgm::daemon {
namespace {

constexpr int64_t kSecond = 1000000;
constexpr int64_t kNow = 1800000000 * kSecond;

ContinuitySnapshot checked() {
  ContinuitySnapshot c;
  c.checked_epoch = kNow / kSecond;
  c.server_lsn = 0x5000000;
  c.stored_commit_us = kNow - 40 * kSecond;
  return c;
}

TEST(RpoTest, UnknownBeforeTheFirstCheckOrProbe) {
  ContinuitySnapshot c = checked();
  c.checked_epoch = 0;
  EXPECT_EQ(rpo_seconds(c, 0x5000000, kNow), std::nullopt);
  c = checked();
  c.server_lsn = 0;
  EXPECT_EQ(rpo_seconds(c, 0x5000000, kNow), std::nullopt);
}

TEST(RpoTest, ZeroWhenEverythingTheServerFlushedIsStored) {
  EXPECT_EQ(rpo_seconds(checked(), 0x5000000, kNow), 0);
  EXPECT_EQ(rpo_seconds(checked(), 0x5000100, kNow), 0);
}

TEST(RpoTest, ZeroWhenTheServersLastCommitIsStored) {
  ContinuitySnapshot c = checked();
  c.server_commit_us = c.stored_commit_us;
  EXPECT_EQ(rpo_seconds(c, 0x4000000, kNow), 0);
  c.server_commit_us = c.stored_commit_us + 1;
  EXPECT_EQ(rpo_seconds(c, 0x4000000, kNow), 40);
}

TEST(RpoTest, BehindCountsFromTheNewestStoredCommit) {
  EXPECT_EQ(rpo_seconds(checked(), 0x4000000, kNow), 40);
  EXPECT_EQ(rpo_seconds(checked(), 0x4000000, kNow + 5 * kSecond), 45);
  ContinuitySnapshot c = checked();
  c.stored_commit_us = 0;
  EXPECT_EQ(rpo_seconds(c, 0x4000000, kNow), std::nullopt);
}

TEST(RpoTest, StoredWalReachingThePreviousProbeBoundsIt) {
  ContinuitySnapshot c = checked();
  c.prev_server_lsn = 0x3000000;
  c.prev_server_lsn_us = kNow - 2 * kSecond;
  EXPECT_EQ(rpo_seconds(c, 0x4000000, kNow), 2);   // idle server, old last commit
  EXPECT_EQ(rpo_seconds(c, 0x2000000, kNow), 40);  // still behind the previous probe
}

}  // namespace
}  // namespace pgm::daemon
