#include "pgm/restore/chain.h"

#include <gtest/gtest.h>

namespace pgm::restore {
namespace {

constexpr const char* kLabel =
    "START WAL LOCATION: 0/9000028 (file 000000010000000000000009)\n"
    "CHECKPOINT LOCATION: 0/9000060\n"
    "BACKUP METHOD: streamed\n"
    "BACKUP FROM: primary\n"
    "START TIME: 2026-12-07 05:45:22 UTC\n"
    "LABEL: pgmoneta_20261207054522\n"
    "START TIMELINE: 1\n";

TEST(IncrementalLabel, LinesAreParsedStrippedAndKept) {
  const std::string label = std::string(kLabel) +
                            "INCREMENTAL FROM LSN: 0/5000028\n"
                            "INCREMENTAL FROM TLI: 1\n";
  auto from = parse_incremental_from(label);
  ASSERT_TRUE(from) << from.error().message();
  EXPECT_EQ(from->lsn, 0x5000028u);
  EXPECT_EQ(from->timeline, 1u);
  EXPECT_EQ(strip_incremental_from(label), kLabel);
  EXPECT_EQ(incremental_from_lines(label),
            "INCREMENTAL FROM LSN: 0/5000028\nINCREMENTAL FROM TLI: 1\n");
  EXPECT_EQ(strip_incremental_from(kLabel), kLabel);
  EXPECT_EQ(incremental_from_lines(kLabel), "");
}

TEST(IncrementalLabel, PaddedLsnsAsNewerPostgreSQLWritesThem) {
  auto from = parse_incremental_from("INCREMENTAL FROM LSN: 0/05000028\nINCREMENTAL FROM TLI: 3\n");
  ASSERT_TRUE(from) << from.error().message();
  EXPECT_EQ(from->lsn, 0x5000028u);
  EXPECT_EQ(from->timeline, 3u);
}

TEST(IncrementalLabel, MissingOrMalformedLinesAreCorruption) {
  for (const char* bad :
       {"", kLabel, "INCREMENTAL FROM LSN: 0/5000028\n", "INCREMENTAL FROM TLI: 1\n",
        "INCREMENTAL FROM LSN: zz\nINCREMENTAL FROM TLI: 1\n",
        "INCREMENTAL FROM LSN: 0/1\nINCREMENTAL FROM TLI: 0\n",
        "INCREMENTAL FROM LSN: 0/1\nINCREMENTAL FROM TLI: -1\n",
        "INCREMENTAL FROM LSN: 0/1\nINCREMENTAL FROM TLI: 99999999999\n"}) {
    SCOPED_TRACE(bad);
    auto from = parse_incremental_from(bad);
    ASSERT_FALSE(from);
    EXPECT_EQ(from.error().code(), ErrorCode::kCorruption);
  }
}

}  // namespace
}  // namespace pgm::restore
