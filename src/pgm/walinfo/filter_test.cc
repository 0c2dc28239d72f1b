#include "pgm/walinfo/filter.h"

#include <gtest/gtest.h>

#include "pgm/walinfo/mapping.h"
#include "pgm/walinfo/options.h"
#include "pgm/walinfo/walinfo_test_util.h"

namespace pgm::walinfo {
namespace {

using testing::for_each_record;
using testing::heap_insert;
using testing::RecordSpec;
using testing::WalBuilder;

// Records shown by `filter` among: Heap insert xid 10 (16384), Heap insert xid 11 (16384),
// a Transaction record xid 11 without blocks, a Heap insert xid 12 into 1663/7/20000.
std::vector<uint32_t> shown_xids(const RecordFilter& filter, std::vector<wal::Lsn>* lsns = nullptr,
                                 const std::string& description = "") {
  WalBuilder wal;
  std::vector<wal::Lsn> at;
  at.push_back(wal.append(heap_insert(10)));
  at.push_back(wal.append(heap_insert(11)));
  RecordSpec commit;
  commit.rmid = 1;
  commit.xid = 11;
  commit.main_data.assign(8, 0);
  at.push_back(wal.append(commit));
  RecordSpec other = heap_insert(12);
  other.blocks[0].rel = {1663, 7, 20000};
  at.push_back(wal.append(other));
  if (lsns != nullptr) {
    *lsns = at;
  }
  std::vector<uint32_t> xids;
  for_each_record(wal.bytes(), [&](const xlog::Record& r) {
    if (filter.matches(r, description)) {
      xids.push_back(r.xid);
    }
  });
  return xids;
}

TEST(WalinfoFilterTest, EmptyFilterShowsEverything) {
  EXPECT_EQ(shown_xids(RecordFilter{}), (std::vector<uint32_t>{10, 11, 11, 12}));
}

TEST(WalinfoFilterTest, FiltersOnRmgrXidAndLsnRange) {
  Options options;
  options.rmgrs = {"heap"};
  auto by_rmgr = make_filter(options, nullptr);
  ASSERT_TRUE(by_rmgr) << by_rmgr.error().message();
  EXPECT_EQ(shown_xids(*by_rmgr), (std::vector<uint32_t>{10, 11, 12}));

  RecordFilter by_xid;
  by_xid.xids = {11};
  EXPECT_EQ(shown_xids(by_xid), (std::vector<uint32_t>{11, 11}));

  std::vector<wal::Lsn> lsns;
  shown_xids(RecordFilter{}, &lsns);
  RecordFilter range;
  range.start = lsns[1];  // inclusive
  range.end = lsns[3];    // exclusive
  EXPECT_EQ(shown_xids(range), (std::vector<uint32_t>{11, 11}));
  EXPECT_TRUE(range.past_end(lsns[3]));
  EXPECT_FALSE(range.past_end(lsns[2]));
}

TEST(WalinfoFilterTest, UnknownRmgrNamesTheKnownOnes) {
  Options options;
  options.rmgrs = {"Heap3"};
  auto filter = make_filter(options, nullptr);
  ASSERT_FALSE(filter);
  EXPECT_NE(filter.error().message().find("Heap2"), std::string::npos) << filter.error().message();
  EXPECT_EQ(rmgr_id("BTREE"), 11);
  EXPECT_EQ(rmgr_id("LogicalMessage"), 21);
  EXPECT_FALSE(rmgr_id(""));
}

TEST(WalinfoFilterTest, ObjectsMatchBlockReferencesOrTheDescription) {
  RecordFilter by_rel;
  by_rel.objects.relations = {20000};
  EXPECT_EQ(shown_xids(by_rel), (std::vector<uint32_t>{12}));
  RecordFilter by_db;
  by_db.objects.databases = {5};
  EXPECT_EQ(shown_xids(by_db), (std::vector<uint32_t>{10, 11}));
  // The lists form one list: any object is enough.
  RecordFilter either;
  either.objects.databases = {7};
  either.objects.relations = {16384};
  EXPECT_EQ(shown_xids(either), (std::vector<uint32_t>{10, 11, 12}));
  // A record without blocks matches through the relations its description names.
  RecordFilter by_text;
  by_text.objects.relations = {99999};
  EXPECT_EQ(shown_xids(by_text, nullptr, "COMMIT 2026-01-01; rels: base/5/99999"),
            (std::vector<uint32_t>{10, 11, 11, 12}));
}

TEST(WalinfoFilterTest, FindsRelationsInDescriptions) {
  auto rels = relations_in_text(
      "CREATE base/5/16384; rel 1664/0/1262 x global/1260 pg_tblspc/16400/16401/16402_vm "
      "database/5/6 base/nope");
  ASSERT_EQ(rels.size(), 4u);
  EXPECT_EQ(rels[0], (xlog::RelLocator{1663, 5, 16384}));
  EXPECT_EQ(rels[1], (xlog::RelLocator{1664, 0, 1262}));
  EXPECT_EQ(rels[2], (xlog::RelLocator{1664, 0, 1260}));
  EXPECT_EQ(rels[3], (xlog::RelLocator{16400, 16401, 16402}));
}

TEST(WalinfoFilterTest, NamesNeedTheMapping) {
  Options options;
  options.relations = {"public.t"};
  options.databases = {"5"};
  auto without = make_filter(options, nullptr);
  ASSERT_FALSE(without);
  EXPECT_NE(without.error().message().find("-m"), std::string::npos);

  OidMapping mapping;
  mapping.add(ObjectKind::kRelation, 16384, "public.t");
  auto with = make_filter(options, &mapping);
  ASSERT_TRUE(with) << with.error().message();
  EXPECT_EQ(with->objects.relations, (std::set<uint32_t>{16384}));
  EXPECT_EQ(with->objects.databases, (std::set<uint32_t>{5}));

  options.relations = {"public.missing"};
  auto missing = make_filter(options, &mapping);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("public.missing"), std::string::npos);
}

TEST(WalinfoMappingTest, ReadsPgmonetasArrayFormAndTheObjectForm) {
  auto mapping = OidMapping::parse(R"({
      "tablespaces": [{"pg_default": "1663"}, {"my_tablespace": "16399"}],
      "databases": [{"mydb": "16733"}, {"postgres": 5}],
      "relations": {"16734": "public.test_table"}
  })",
                                   "map.json");
  ASSERT_TRUE(mapping) << mapping.error().message();
  EXPECT_EQ(mapping->size(), 5u);
  EXPECT_EQ(mapping->name_of(ObjectKind::kTablespace, 16399), "my_tablespace");
  EXPECT_EQ(mapping->name_of(ObjectKind::kDatabase, 5), "postgres");
  EXPECT_EQ(mapping->oid_of(ObjectKind::kRelation, "public.test_table"), 16734u);
  EXPECT_FALSE(mapping->name_of(ObjectKind::kRelation, 5));
  EXPECT_EQ(mapping->display(ObjectKind::kRelation, 42), "42");
  EXPECT_EQ(mapping->translate("x rel 1663/16733/16734 y rel 1/2 z rel 1663/5/9"),
            "x rel pg_default/mydb/public.test_table y rel 1/2 z rel pg_default/postgres/9");
}

TEST(WalinfoMappingTest, RejectsMalformedFilesNamingThem) {
  const std::vector<std::string> bad = {
      "not json",
      "[1, 2]",
      R"({"databases": [{"db": "x"}]})",
      R"({"databases": [3]})",
      R"({"relations": {"abc": "t"}})",
      R"({"tablespaces": "pg_default"})",
  };
  for (const std::string& text : bad) {
    auto mapping = OidMapping::parse(text, "m.json");
    ASSERT_FALSE(mapping) << text;
    EXPECT_EQ(mapping.error().message().rfind("m.json: ", 0), 0u) << mapping.error().message();
  }
}

}  // namespace
}  // namespace pgm::walinfo
