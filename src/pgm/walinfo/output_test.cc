#include "pgm/walinfo/output.h"

#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pgm/walinfo/mapping.h"
#include "pgm/walinfo/summary.h"
#include "pgm/walinfo/walinfo_test_util.h"
#include "pgm/xlog/rmgr.h"

namespace pgm::walinfo {
namespace {

using testing::BlockSpec;
using testing::for_each_record;
using testing::heap_insert;
using testing::RecordSpec;
using testing::WalBuilder;

TEST(WalinfoOutputTest, RawLineIsPgWaldumpsWithTheRecordsOwnLsn) {
  WalBuilder wal;
  const wal::Lsn first = wal.append(heap_insert(735));
  const wal::Lsn second = wal.append(heap_insert(736, 7));
  std::vector<std::string> lines;
  for_each_record(wal.bytes(), [&](const xlog::Record& r) {
    lines.push_back(raw_line(r, xlog::describe(r, 15), false, nullptr));
  });
  ASSERT_EQ(lines.size(), 2u);
  const std::string lsn = fmt::format("{:X}/{:08X}", second.high(), second.low());
  const std::string prev = fmt::format("{:X}/{:08X}", first.high(), first.low());
  EXPECT_EQ(lines[1].rfind("rmgr: Heap        len (rec/tot):     ", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find(", tx:        736, lsn: " + lsn + ", prev " + prev + ", desc: INSERT"),
            std::string::npos)
      << lines[1];
  EXPECT_EQ(lines[1].substr(lines[1].size() - 35), ", blkref #0: rel 1663/5/16384 blk 7")
      << lines[1];
}

TEST(WalinfoOutputTest, BlockReferencesNameForksAndImages) {
  RecordSpec spec = heap_insert(9);
  BlockSpec vm;
  vm.id = 1;
  vm.fork = 2;
  vm.block = 4;
  vm.image_info = 0x02;  // 15: apply, no hole, not compressed
  vm.image.assign(8192, 0);
  spec.blocks.push_back(vm);
  WalBuilder wal;
  wal.append(spec);
  for_each_record(wal.bytes(), [&](const xlog::Record& r) {
    EXPECT_EQ(block_refs_short(r),
              ", blkref #0: rel 1663/5/16384 blk 0, blkref #1: rel 1663/5/16384 fork vm blk 4 FPW");
    EXPECT_EQ(block_refs_detailed(r),
              "blkref #0: rel 1663/5/16384 fork main blk 0 blkref #1: rel 1663/5/16384 fork vm "
              "blk 4 (FPW); hole: offset: 0, length: 0");
    EXPECT_EQ(r.image_bytes(), 8192u);
  });
}

TEST(WalinfoOutputTest, ColorWrapsHeaderDescriptionAndBlocks) {
  WalBuilder wal;
  wal.append(heap_insert(1));
  for_each_record(wal.bytes(), [&](const xlog::Record& r) {
    const std::string line = raw_line(r, "INSERT off 3", true, nullptr);
    EXPECT_EQ(line.rfind("\033[31mrmgr: Heap", 0), 0u);
    EXPECT_NE(line.find("\033[32mdesc: INSERT off 3\033[0m"), std::string::npos) << line;
    EXPECT_NE(line.find("\033[34m, blkref #0"), std::string::npos) << line;
  });
}

TEST(WalinfoOutputTest, JsonHasPgmonetasKeysAndTypesWithTheOwnLsn) {
  WalBuilder wal;
  wal.append(heap_insert(735));
  const wal::Lsn second = wal.append(heap_insert(736, 2));
  std::ostringstream out;
  RecordPrinter printer(out, Format::kJson, false, nullptr);
  printer.begin();
  for_each_record(wal.bytes(),
                  [&](const xlog::Record& r) { printer.print(r, xlog::describe(r, 15)); });
  printer.end();
  nlohmann::json doc = nlohmann::json::parse(out.str());
  ASSERT_TRUE(doc["WAL"].is_array()) << out.str();
  ASSERT_EQ(doc["WAL"].size(), 2u);
  const nlohmann::json& rec = doc["WAL"][1]["Record"];
  std::vector<std::string> keys;
  for (const auto& [key, value] : rec.items()) {
    keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"Crc", "Data", "Description", "EndLSN", "Info",
                                            "RecordLength", "ResourceManager", "ResourceManagerId",
                                            "StartLSN", "TotalLength", "Xid"}));
  EXPECT_EQ(rec["ResourceManager"], "Heap");
  EXPECT_EQ(rec["ResourceManagerId"], 10);
  EXPECT_EQ(rec["Xid"], 736);
  EXPECT_EQ(rec["StartLSN"].get<uint64_t>(), second.value());
  EXPECT_GT(rec["EndLSN"].get<uint64_t>(), second.value());
  EXPECT_EQ(rec["TotalLength"], rec["RecordLength"]);  // no image
  EXPECT_EQ(rec["Description"], "blkref #0: rel 1663/5/16384 fork main blk 2");
  EXPECT_EQ(rec["Data"].get<std::string>().rfind("INSERT", 0), 0u);
  EXPECT_EQ(printer.printed(), 2u);
}

TEST(WalinfoOutputTest, EmptyJsonDocumentIsValid) {
  std::ostringstream out;
  RecordPrinter printer(out, Format::kJson, false, nullptr);
  printer.begin();
  printer.end();
  nlohmann::json doc = nlohmann::json::parse(out.str());
  EXPECT_TRUE(doc["WAL"].is_array());
  EXPECT_TRUE(doc["WAL"].empty());
}

TEST(WalinfoOutputTest, TranslatesRelationTriplesWithTheMapping) {
  OidMapping mapping;
  mapping.add(ObjectKind::kTablespace, 1663, "pg_default");
  mapping.add(ObjectKind::kRelation, 16384, "public.t");
  WalBuilder wal;
  wal.append(heap_insert(5));
  for_each_record(wal.bytes(), [&](const xlog::Record& r) {
    const std::string line = raw_line(r, "INSERT off 3", false, &mapping);
    EXPECT_NE(line.find("blkref #0: rel pg_default/5/public.t blk 0"), std::string::npos) << line;
  });
}

TEST(WalinfoSummaryTest, CountsSizesAndPercentagesPerRmgr) {
  RecordSpec with_image = heap_insert(2);
  with_image.blocks[0].image_info = 0x02;
  with_image.blocks[0].image.assign(8192, 1);
  RecordSpec commit;
  commit.rmid = 1;  // Transaction
  commit.xid = 2;
  commit.main_data.assign(8, 0);
  WalBuilder wal;
  wal.append(heap_insert(1));
  wal.append(with_image);
  wal.append(commit);
  Summary summary;
  uint64_t heap_total = 0;
  uint64_t all_total = 0;
  for_each_record(wal.bytes(), [&](const xlog::Record& r) {
    summary.add(r);
    all_total += r.total_length;
    if (r.rmid == 10) {
      heap_total += r.total_length;
    }
  });
  const std::vector<RmgrStats> rows = summary.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].name, "Transaction");
  EXPECT_EQ(rows[0].count, 1u);
  EXPECT_EQ(rows[0].fpi_size, 0u);
  EXPECT_EQ(rows[1].name, "Heap");
  EXPECT_EQ(rows[1].count, 2u);
  EXPECT_EQ(rows[1].fpi_size, 8192u);
  EXPECT_EQ(rows[1].combined_size, heap_total);
  EXPECT_EQ(rows[1].record_size + rows[1].fpi_size, rows[1].combined_size);
  const RmgrStats total = summary.total();
  EXPECT_EQ(total.count, 3u);
  EXPECT_EQ(total.combined_size, all_total);
  EXPECT_DOUBLE_EQ(percentage(2, 3), 200.0 / 3.0);
  EXPECT_DOUBLE_EQ(percentage(1, 0), 0.0);

  std::ostringstream json;
  summary.render(json, Format::kJson);
  nlohmann::json doc = nlohmann::json::parse(json.str());
  ASSERT_EQ(doc["wal_stats"].size(), 2u);
  const nlohmann::json& heap = doc["wal_stats"][1];
  EXPECT_EQ(heap["resource_manager"], "Heap");
  EXPECT_EQ(heap["count"], 2);
  EXPECT_DOUBLE_EQ(heap["count_percentage"].get<double>(), 66.67);
  EXPECT_DOUBLE_EQ(heap["fpi_size_percentage"].get<double>(), 100.0);
  EXPECT_EQ(heap.size(), 9u);

  std::ostringstream raw;
  summary.render(raw, Format::kRaw);
  const std::string table = raw.str();
  EXPECT_EQ(table.rfind("Resource Manager     |   Count    |  Count %  |", 0), 0u) << table;
  EXPECT_NE(table.find("\nHeap                 |          2 |    66.67% |"), std::string::npos)
      << table;
  EXPECT_NE(table.find("\nTotal                |          3 |   100.00% |"), std::string::npos)
      << table;
}

}  // namespace
}  // namespace pgm::walinfo
