#include "pgm/xlog/rmgr.h"

#include <gtest/gtest.h>

#include "pgm/xlog/format.h"
#include "pgm/xlog/wal_builder.h"

namespace pgm::xlog {
namespace {

TEST(RmgrTest, NamesAsPgWaldumpPrintsThem) {
  EXPECT_EQ(rmgr_name(kRmXlog), "XLOG");
  EXPECT_EQ(rmgr_name(kRmHeap2), "Heap2");
  EXPECT_EQ(rmgr_name(kRmReplicationOrigin), "ReplicationOrigin");
  EXPECT_EQ(rmgr_name(kRmLogicalMessage), "LogicalMessage");
  EXPECT_EQ(rmgr_name(130), "custom130");
  EXPECT_EQ(rmgr_name(50), "");
}

TEST(RmgrTest, RecordTypeNames) {
  struct Case {
    uint8_t rmid;
    uint8_t info;
    int major;
    const char* name;
  };
  const Case cases[] = {
      {kRmXlog, 0x10, 15, "CHECKPOINT_ONLINE"},
      {kRmXlog, 0x40, 15, "SWITCH"},
      {kRmXlog, 0xB0, 15, "FPI"},
      {kRmXlog, 0xE0, 15, "UNKNOWN"},
      {kRmXlog, 0xE0, 17, "CHECKPOINT_REDO"},
      {kRmTransaction, 0x00, 15, "COMMIT"},
      {kRmTransaction, 0x80, 15, "COMMIT"},  // with xinfo
      {kRmTransaction, 0x60, 15, "INVALIDATION"},
      {kRmTransaction, 0x60, 13, "UNKNOWN"},
      {kRmStorage, 0x10, 15, "CREATE"},
      {kRmDatabase, 0x10, 15, "CREATE_WAL_LOG"},
      {kRmDatabase, 0x10, 14, "DROP"},
      {kRmHeap, 0x00, 15, "INSERT"},
      {kRmHeap, 0x80, 15, "INSERT+INIT"},
      {kRmHeap, 0x40, 15, "HOT_UPDATE"},
      {kRmHeap, 0x01, 15, "INSERT"},  // the low bits are not the rmgr's
      {kRmHeap2, 0x10, 15, "PRUNE"},
      {kRmHeap2, 0x10, 13, "CLEAN"},
      {kRmHeap2, 0x10, 17, "PRUNE_ON_ACCESS"},
      {kRmHeap2, 0xD0, 15, "MULTI_INSERT+INIT"},
      {kRmBtree, 0x40, 15, "SPLIT_R"},
      {kRmStandby, 0x10, 15, "RUNNING_XACTS"},
      {kRmSequence, 0x00, 15, "LOG"},
      {kRmHash, 0xC0, 15, "VACUUM_ONE_PAGE"},
      {kRmGin, 0x90, 15, "VACUUM_DATA_LEAF_PAGE"},
      {kRmGist, 0x30, 15, "PAGE_SPLIT"},
      {kRmGist, 0x00, 15, "PAGE_UPDATE"},
      {kRmGist, 0x70, 13, "ASSIGN_LSN"},
      {kRmSpGist, 0x50, 15, "PICKSPLIT"},
      {kRmBrin, 0x90, 15, "INSERT+INIT"},
      {kRmClog, 0x10, 15, "TRUNCATE"},
      {kRmMultiXact, 0x20, 15, "CREATE_ID"},
      {kRmRelMap, 0x00, 15, "UPDATE"},
      {kRmTablespace, 0x10, 15, "DROP"},
      {kRmCommitTs, 0x00, 15, "ZEROPAGE"},
      {kRmReplicationOrigin, 0x00, 15, "SET"},
      {kRmGeneric, 0x00, 15, "Generic"},
      {kRmLogicalMessage, 0x00, 15, "MESSAGE"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(record_type_name(c.rmid, c.info, c.major), c.name)
        << int{c.rmid} << " 0x" << std::hex << int{c.info} << " " << std::dec << c.major;
  }
}

TEST(RmgrTest, DescribesHeapInsertAndRunningXacts) {
  testing::RecordSpec insert;
  insert.rmid = kRmHeap;
  insert.info = 0x00;
  insert.main_data = {3, 0, 0x08};  // offnum 3, flags 0x08
  auto bytes = testing::encode_record(insert, wal::Lsn());
  auto record = parse_record(bytes, 15);
  ASSERT_TRUE(record);
  EXPECT_EQ(describe(*record, 15), "INSERT off 3 flags 0x08");

  testing::RecordSpec running;
  running.rmid = kRmStandby;
  running.info = 0x10;
  running.main_data = {
      1,    0, 0, 0, 0,    0, 0, 0, 0,    0, 0, 0,  // 1 xact, 0 subxacts, no overflow
      0xE9, 2, 0, 0, 0xE8, 2, 0, 0, 0xE7, 2, 0, 0, 0xE8, 2, 0, 0};
  bytes = testing::encode_record(running, wal::Lsn());
  record = parse_record(bytes, 15);
  ASSERT_TRUE(record);
  EXPECT_EQ(describe(*record, 15),
            "RUNNING_XACTS nextXid 745 latestCompletedXid 743 oldestRunningXid 744; 1 xacts: 744");

  // A main data too short for the fields: the name alone, no read past the end.
  insert.main_data = {3};
  bytes = testing::encode_record(insert, wal::Lsn());
  record = parse_record(bytes, 15);
  ASSERT_TRUE(record);
  EXPECT_EQ(describe(*record, 15), "INSERT");
}

TEST(RmgrTest, DescribesCommitWithSubxactsAndInvalidations) {
  testing::RecordSpec commit;
  commit.rmid = kRmTransaction;
  commit.info = 0x80;  // xinfo follows
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) {
      commit.main_data.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
  };
  // 2026-12-07 22:07:20.131597 UTC in microseconds since 2000-01-01.
  const uint64_t time = (1796681240ull - 946684800ull) * 1000000ull + 131597ull;
  put32(static_cast<uint32_t>(time));
  put32(static_cast<uint32_t>(time >> 32));
  put32(0x01 | 0x02 | 0x08);  // db info, subxacts, invalidations
  put32(5);                   // db
  put32(1663);                // tablespace
  put32(2);                   // two subxacts
  put32(801);
  put32(802);
  put32(1);  // one invalidation message: a snapshot of relation 2396
  commit.main_data.push_back(static_cast<uint8_t>(-5));
  commit.main_data.insert(commit.main_data.end(), 3, 0);
  put32(5);
  put32(2396);
  put32(0);
  auto bytes = testing::encode_record(commit, wal::Lsn());
  auto record = parse_record(bytes, 15);
  ASSERT_TRUE(record);
  EXPECT_EQ(describe(*record, 15),
            "COMMIT 2026-12-07 22:07:20.131597 UTC; subxacts: 801 802; inval msgs: snapshot 2396");
}

TEST(RmgrTest, RelationPaths) {
  EXPECT_EQ(relation_path({1663, 5, 16384}, 0), "base/5/16384");
  EXPECT_EQ(relation_path({1664, 0, 1262}, 0), "global/1262");
  EXPECT_EQ(relation_path({1663, 5, 16384}, 2), "base/5/16384_vm");
  EXPECT_EQ(fork_name(1), std::string("fsm"));
}

}  // namespace
}  // namespace pgm::xlog
