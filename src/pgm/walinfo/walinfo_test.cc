#include "pgm/walinfo/walinfo.h"

#include <filesystem>
#include <optional>
#include <sstream>

#include "support/temp_dir.h"
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pgm/wal/segment.h"
#include "pgm/walinfo/settings.h"
#include "pgm/walinfo/walinfo_test_util.h"

namespace pgm::walinfo {
namespace {

using testing::heap_insert;
using testing::WalBuilder;

constexpr uint64_t kSegmentSize = uint64_t{1} << 20;

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

Outcome run_with(const Options& options,
                 const std::optional<crypto::MasterKey>& key = std::nullopt) {
  Context context;
  context.load_master_key = [key] {
    return key ? Result<crypto::MasterKey>(*key)
               : Result<crypto::MasterKey>(make_error(ErrorCode::kNotFound, "no master.key here"));
  };
  std::ostringstream out;
  std::ostringstream err;
  Outcome r;
  r.exit_code = run(options, context, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

std::string segment_file(uint64_t segno) {
  return wal::segment_name_for(wal::TimelineId(1), segno, kSegmentSize);
}

// Two segments (1 and 2) of Heap inserts, xids 1000.., one record crossing the boundary, the
// second segment ending in zeros. Writes them to `dir`; returns the LSNs.
std::vector<wal::Lsn> write_two_segments(const test_support::TempDir& dir) {
  WalBuilder wal(15, static_cast<uint32_t>(kSegmentSize));
  std::vector<wal::Lsn> lsns;
  uint32_t xid = 1000;
  while (wal.position().value() < 3 * kSegmentSize - 4096) {  // segments 1 and 2
    auto spec = heap_insert(xid++);
    spec.main_data.resize(3 + 500);
    lsns.push_back(wal.append(spec));
  }
  std::vector<uint8_t> bytes = wal.bytes_to_segment_end();
  bytes.resize(2 * kSegmentSize);
  test_support::write_bytes(dir.file(segment_file(1)),
                            std::span<const uint8_t>(bytes).first(kSegmentSize));
  test_support::write_bytes(dir.file(segment_file(2)),
                            std::span<const uint8_t>(bytes).subspan(kSegmentSize));
  return lsns;
}

Options options_for(const std::string& path) {
  Options o;
  o.path = path;
  o.config = "/nonexistent-walinfo.conf";
  o.color = Color::kOff;
  return o;
}

TEST(WalinfoRunTest, DirectoryIsOneStreamEveryRecordOnce) {
  test_support::TempDir dir("walinfo");
  const std::vector<wal::Lsn> lsns = write_two_segments(dir);
  test_support::write_text(dir.file("00000001.history"), "");
  test_support::write_text(dir.file("notes.txt"), "");
  Options o = options_for(dir.path());
  o.config.reset();
  Outcome r = run_with(o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), lsns.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string lsn = fmt::format("lsn: {:X}/{:08X},", lsns[i].high(), lsns[i].low());
    ASSERT_NE(lines[i].find(lsn), std::string::npos) << i << ": " << lines[i];
  }
}

TEST(WalinfoRunTest, OneSegmentAloneEndsWithoutErrorAtACutRecord) {
  test_support::TempDir dir("walinfo");
  const std::vector<wal::Lsn> lsns = write_two_segments(dir);
  Options o = options_for(dir.file(segment_file(1)));
  o.config.reset();
  o.verbose = true;
  Outcome r = run_with(o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t in_first = 0;
  for (wal::Lsn l : lsns) {
    in_first += l.value() < 2 * kSegmentSize ? 1 : 0;
  }
  EXPECT_LT(lines_of(r.out).size(), in_first);
  EXPECT_NE(r.err.find("continues in a segment not given"), std::string::npos) << r.err;
}

TEST(WalinfoRunTest, PartialSegmentEndsWhereItsWrittenPagesEnd) {
  // Segment 1 complete, segment 2 a .partial whose pages after 64 kB were never written (the
  // record crossing that page boundary is cut).
  WalBuilder wal(15, static_cast<uint32_t>(kSegmentSize));
  std::vector<wal::Lsn> lsns;
  uint32_t xid = 1;
  while (wal.position().value() < 2 * kSegmentSize + 100000) {
    auto spec = heap_insert(xid++);
    spec.main_data.resize(3 + 700);
    lsns.push_back(wal.append(spec));
  }
  std::vector<uint8_t> bytes = wal.bytes_to_segment_end();
  const size_t written = kSegmentSize + 65536;
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(written), bytes.end(), 0);
  test_support::TempDir dir("walinfo");
  test_support::write_bytes(dir.file(segment_file(1)),
                            std::span<const uint8_t>(bytes).first(kSegmentSize));
  test_support::write_bytes(dir.file(segment_file(2) + ".partial"),
                            std::span<const uint8_t>(bytes).subspan(kSegmentSize, kSegmentSize));
  Options o = options_for(dir.path());
  o.config.reset();
  o.verbose = true;
  Outcome r = run_with(o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t whole = 0;
  for (size_t i = 0; i + 1 < lsns.size(); ++i) {
    whole += lsns[i + 1].value() <= kSegmentSize + written ? 1 : 0;  // ends before the cut
  }
  // The last whole record may end just before the cut while the next starts after it.
  EXPECT_GE(lines_of(r.out).size(), whole);
  EXPECT_LE(lines_of(r.out).size(), whole + 1);
  EXPECT_NE(r.err.find("the WAL written so far ends after"), std::string::npos) << r.err;
}

TEST(WalinfoRunTest, LimitFiltersAndJson) {
  test_support::TempDir dir("walinfo");
  const std::vector<wal::Lsn> lsns = write_two_segments(dir);
  Options o = options_for(dir.path());
  o.config.reset();
  o.format = Format::kJson;
  o.start = lsns[5];
  o.limit = 3;
  Outcome r = run_with(o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["WAL"].size(), 3u);
  EXPECT_EQ(doc["WAL"][0]["Record"]["StartLSN"].get<uint64_t>(), lsns[5].value());
  EXPECT_EQ(doc["WAL"][2]["Record"]["Xid"], 1007);

  Options by_xid = options_for(dir.path());
  by_xid.config.reset();
  by_xid.xids = {1010, 1012};
  Outcome x = run_with(by_xid);
  ASSERT_EQ(x.exit_code, 0) << x.err;
  EXPECT_EQ(lines_of(x.out).size(), 2u) << x.out;
}

TEST(WalinfoRunTest, SummaryCountsWhatTheFiltersLetThrough) {
  test_support::TempDir dir("walinfo");
  const std::vector<wal::Lsn> lsns = write_two_segments(dir);
  Options o = options_for(dir.path());
  o.config.reset();
  o.summary = true;
  o.format = Format::kJson;
  o.end = lsns[10];
  Outcome r = run_with(o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["wal_stats"].size(), 1u);
  EXPECT_EQ(doc["wal_stats"][0]["resource_manager"], "Heap");
  EXPECT_EQ(doc["wal_stats"][0]["count"], 10);
}

TEST(WalinfoRunTest, MalformedSegmentNamesFileAndOffsetExitOne) {
  test_support::TempDir dir("walinfo");
  write_two_segments(dir);
  std::vector<uint8_t> bytes = test_support::read_bytes(dir.file(segment_file(1)));
  bytes[40 + 24 + 600] ^= 0xFF;  // inside the second or third record
  test_support::write_bytes(dir.file(segment_file(1)), bytes);
  Options o = options_for(dir.path());
  o.config.reset();
  o.format = Format::kJson;
  Outcome r = run_with(o);
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_NE(r.err.find(segment_file(1)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("offset 0x"), std::string::npos) << r.err;
  // What was printed before the error is still a JSON document.
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_GE(doc["WAL"].size(), 1u);
}

TEST(WalinfoRunTest, ReportsMissingInputsAndKeys) {
  test_support::TempDir dir("walinfo");
  Options missing = options_for(dir.file(segment_file(1)));
  missing.config.reset();
  Outcome r = run_with(missing);
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_NE(r.err.find(segment_file(1)), std::string::npos) << r.err;

  test_support::write_bytes(dir.file(segment_file(3) + ".aes"), std::vector<uint8_t>(100, 1));
  Options aes = options_for(dir.file(segment_file(3) + ".aes"));
  aes.config.reset();
  Outcome k = run_with(aes);
  EXPECT_EQ(k.exit_code, kExitFailure);
  EXPECT_NE(k.err.find("master key"), std::string::npos) << k.err;

  Options bad_config = options_for(dir.path());
  Outcome c = run_with(bad_config);
  EXPECT_EQ(c.exit_code, kExitFailure);
  EXPECT_NE(c.err.find("/nonexistent-walinfo.conf"), std::string::npos) << c.err;

  Options translate = options_for(dir.path());
  translate.config.reset();
  translate.translate = true;
  Outcome t = run_with(translate);
  EXPECT_EQ(t.exit_code, kExitFailure);
  EXPECT_NE(t.err.find("-m"), std::string::npos) << t.err;
}

TEST(WalinfoRunTest, DecryptsAesSegmentsWithTheMasterKey) {
  test_support::TempDir dir("walinfo");
  const size_t records = write_two_segments(dir).size();
  const crypto::MasterKey key{std::vector<uint8_t>(crypto::kMasterKeyLength, 7)};
  for (uint64_t segno : {1, 2}) {
    const std::string plain = dir.file(segment_file(segno));
    auto sealed =
        crypto::aes_encrypt(key, crypto::AesMode::kAes256Gcm, test_support::read_bytes(plain));
    ASSERT_TRUE(sealed) << sealed.error().message();
    test_support::write_bytes(plain + ".aes", *sealed);
    std::filesystem::remove(plain);
  }
  Options o = options_for(dir.path());
  o.config.reset();
  Outcome r = run_with(o, key);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_of(r.out).size(), records);

  const crypto::MasterKey wrong{std::vector<uint8_t>(crypto::kMasterKeyLength, 8)};
  Outcome bad = run_with(o, wrong);
  EXPECT_EQ(bad.exit_code, kExitFailure);
  EXPECT_NE(bad.err.find(segment_file(1) + ".aes"), std::string::npos) << bad.err;
}

TEST(WalinfoRunTest, ListsResourceManagers) {
  Options o;
  o.rmgrs = {"list"};
  Outcome r = run_with(o);
  ASSERT_EQ(r.exit_code, 0);
  const std::vector<std::string> names = lines_of(r.out);
  ASSERT_EQ(names.size(), 22u);
  EXPECT_EQ(names[0], "XLOG");
  EXPECT_EQ(names[10], "Heap");
}

TEST(WalinfoRunTest, DirectoryPrefersCompleteSegmentsOverPartials) {
  test_support::TempDir dir("walinfo");
  test_support::write_text(dir.file(segment_file(1)), "");
  test_support::write_text(dir.file(segment_file(1) + ".partial"), "");
  test_support::write_text(dir.file(segment_file(2) + ".partial"), "");
  test_support::write_text(dir.file(segment_file(0) + ".zstd"), "");
  auto files = wal_files_in(dir.path());
  ASSERT_TRUE(files) << files.error().message();
  EXPECT_EQ(*files, (std::vector<std::string>{dir.file(segment_file(0) + ".zstd"),
                                              dir.file(segment_file(1)),
                                              dir.file(segment_file(2) + ".partial")}));
}

TEST(WalinfoSettingsTest, ReadsWalinfoAndPgmonetaSections) {
  auto s = parse_settings(
      "[pgmoneta_walinfo]\nlog_type = file\nlog_level = debug2\nlog_path = /tmp/w.log\n"
      "encryption = aes-128-gcm\nunknown = 1\n[primary]\nhost = localhost\n",
      "w.conf");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->log_type, log::Type::kFile);
  EXPECT_EQ(s->log_level, log::Level::kDebug2);
  EXPECT_EQ(s->log_path, "/tmp/w.log");
  EXPECT_EQ(s->encryption, crypto::AesMode::kAes128Gcm);

  auto unknown_level = parse_settings("[pgmoneta]\nlog_level = loud\n", "p.conf");
  ASSERT_TRUE(unknown_level);
  EXPECT_EQ(unknown_level->log_level, log::Level::kInfo);

  auto bad = parse_settings("[pgmoneta_walinfo]\n\nlog_type = paper\n", "w.conf");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message().rfind("w.conf:3: ", 0), 0u) << bad.error().message();
}

// Every other section is a server -t can read names from (the first one is used).
TEST(WalinfoSettingsTest, ServerSectionsAreWhereNamesAreRead) {
  auto s = parse_settings(
      "[pgmoneta]\nbase_dir = /b\n[primary]\nhost = db1\nport = 5433\nuser = repl\n"
      "wal_slot = x\n[replica]\nhost = /run/postgresql\n",
      "w.conf");
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(s->servers.size(), 2u);
  EXPECT_EQ(s->servers[0].name, "primary");
  EXPECT_EQ(s->servers[0].host, "db1");
  EXPECT_EQ(s->servers[0].port, 5433);
  EXPECT_EQ(s->servers[0].user, "repl");
  EXPECT_EQ(s->servers[1].host, "/run/postgresql");
  EXPECT_EQ(s->servers[1].port, 5432);

  auto bad = parse_settings("[primary]\nport = 70000\n", "w.conf");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "w.conf:2: invalid port \"70000\"");
}

}  // namespace
}  // namespace pgm::walinfo
