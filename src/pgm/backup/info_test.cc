#include "pgm/backup/info.h"

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <string>

#include "support/bytes.h"
#include <gtest/gtest.h>

namespace pgm::backup {
namespace {

const std::string& kEmptyHash = test_support::kSha512OfEmpty;
const std::string& kAbcHash = test_support::kSha512OfAbc;
const std::string kHelloHash =
    "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7"
    "2323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043";
const std::string kWorldHash =
    "11853df40f4b2b919d3815f64792e58d08663767a494bcbb38c0b2389d9140bb"
    "b170281b4a847be7757bde12c9cd0054ce3652d0ad3a1a0c92babb69798246ee";

BackupInfo small_info() {
  BackupInfo info;
  info.pgmoneta_version = "0.20.0";
  info.valid = true;
  info.label = "20240102030405";
  info.wal = "000000010000000000000003";
  info.backup_size = 1000;
  info.restore_size = 2000;
  info.biggest_file_size = 300;
  info.elapsed = Seconds(1.5);
  info.basebackup_elapsed = Seconds(1.25);
  info.major_version = 15;
  info.minor_version = 4;
  info.compression = 18;
  info.tablespaces.push_back({"tblspc_ts1", "16384", "/srv/ts1"});
  info.start_lsn = 0x3000028;
  info.end_lsn = (uint64_t{0x16} << 32) | 0xB374D848;
  info.checkpoint_lsn = 0x3000060;
  info.start_timeline = 1;
  info.end_timeline = 1;
  info.comments = "owner|ops";
  return info;
}

// Order and formats of pgmoneta_save_info (reference §6.1).
constexpr std::string_view kSmallGolden =
    "PGMONETA_VERSION=0.20.0\n"
    "STATUS=1\n"
    "LABEL=20240102030405\n"
    "WAL=000000010000000000000003\n"
    "BACKUP=1000\n"
    "RESTORE=2000\n"
    "BIGGEST_FILE=300\n"
    "ELAPSED=1.5000\n"
    "BASEBACKUP_ELAPSED=1.2500\n"
    "HASH_ELAPSED=0.0000\n"
    "COMPRESSION_ZSTD_ELAPSED=0.0000\n"
    "COMPRESSION_GZIP_ELAPSED=0.0000\n"
    "COMPRESSION_BZIP2_ELAPSED=0.0000\n"
    "COMPRESSION_LZ4_ELAPSED=0.0000\n"
    "ENCRYPTION_ELAPSED=0.0000\n"
    "LINKING_ELAPSED=0.0000\n"
    "MANIFEST_ELAPSED=0.0000\n"
    "REMOTE_SSH_ELAPSED=0.0000\n"
    "REMOTE_S3_ELAPSED=0.0000\n"
    "REMOTE_AZURE_ELAPSED=0.0000\n"
    "MAJOR_VERSION=15\n"
    "MINOR_VERSION=4\n"
    "KEEP=0\n"
    "TABLESPACES=1\n"
    "COMPRESSION=18\n"
    "ENCRYPTION=0\n"
    "TABLESPACE1=tblspc_ts1\n"
    "TABLESPACE_OID1=16384\n"
    "TABLESPACE_PATH1=/srv/ts1\n"
    "START_WALPOS=0/3000028\n"
    "END_WALPOS=16/B374D848\n"
    "CHKPT_WALPOS=0/3000060\n"
    "START_TIMELINE=1\n"
    "END_TIMELINE=1\n"
    "TYPE=0\n"
    "PARENT=\n"
    "COMMENTS=owner|ops\n"
    "EXTRA=\n";

BackupInfo full_info() {
  BackupInfo info = small_info();
  info.hash_elapsed = Seconds(0.125);
  info.compression_zstd_elapsed = Seconds(2.5);
  info.compression_gzip_elapsed = Seconds(3.75);
  info.compression_bzip2_elapsed = Seconds(4.0625);
  info.compression_lz4_elapsed = Seconds(5);
  info.encryption_elapsed = Seconds(6.5);
  info.linking_elapsed = Seconds(7.25);
  info.manifest_elapsed = Seconds(8.5);
  info.remote_ssh_elapsed = Seconds(9);
  info.remote_s3_elapsed = Seconds(10.5);
  info.remote_azure_elapsed = Seconds(11.75);
  info.keep = true;
  info.encryption = 1;
  info.tablespaces.push_back({"tblspc_ts2", "16385", "/srv/ts2"});
  info.end_timeline = 2;
  info.type = BackupType::kIncremental;
  info.parent = "20240101000000";
  info.comments = "a|b,c|d=e";
  info.extra = "x=y";
  info.extra_keys = {{"HASH_ALGORITHM", "1"}, {"FUTURE", ""}};
  return info;
}

TEST(InfoTest, FirstWalSegmentFallsBackOnStartWalpos) {
  BackupInfo info;
  info.wal = "000000010000000000000031";
  info.start_lsn = 0x3100028;
  info.start_timeline = 1;
  EXPECT_EQ(first_wal_segment(info, 1u << 20), "000000010000000000000031");
  // pgmoneta's WAL=(null): the segment of START_WALPOS, for the segment size in use.
  info.wal = "(null)";
  EXPECT_EQ(first_wal_segment(info, 1u << 20), "000000010000000000000031");
  EXPECT_EQ(first_wal_segment(info, 16u << 20), "000000010000000000000003");
  info.start_timeline = 2;
  info.start_lsn = 0x1FF000028;
  EXPECT_EQ(first_wal_segment(info, 16u << 20), "0000000200000001000000FF");
  info.start_lsn = 0;
  EXPECT_EQ(first_wal_segment(info, 16u << 20), "");
  EXPECT_EQ(first_wal_segment(info, 12345), "");
}

TEST(InfoTest, SegmentSizeFromInfo) {
  BackupInfo info;
  info.wal = "000000010000000000000031";
  info.start_lsn = 0x3100028;
  info.start_timeline = 1;
  EXPECT_EQ(segment_size_from_info(info), uint64_t{1} << 20);
  info.wal = "000000010000000000000003";
  EXPECT_EQ(segment_size_from_info(info), uint64_t{16} << 20);
  info.wal = "(null)";
  EXPECT_EQ(segment_size_from_info(info), 0u);
  info.wal = "000000010000000000000000";  // every size fits an LSN this small
  info.start_lsn = 0x28;
  EXPECT_EQ(segment_size_from_info(info), 0u);
}

TEST(InfoTest, FormatsSmallInfoExactly) {
  EXPECT_EQ(format_backup_info(small_info()), kSmallGolden);
}

TEST(InfoTest, ParsesGolden) {
  auto parsed = parse_backup_info(kSmallGolden);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, small_info());
}

TEST(InfoTest, FullRoundTrip) {
  BackupInfo info = full_info();
  std::string text = format_backup_info(info);
  auto parsed = parse_backup_info(text);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, info);
  EXPECT_EQ(format_backup_info(*parsed), text);
}

TEST(InfoTest, RoundsTimingsToFourDecimals) {
  BackupInfo info = small_info();
  info.elapsed = Seconds(0.123456);
  EXPECT_NE(format_backup_info(info).find("\nELAPSED=0.1235\n"), std::string::npos);
}

TEST(InfoTest, PreservesUnknownKeysInOrder) {
  std::string text = std::string(kSmallGolden) + "ZZZ=1\nAAA=two=2\n";
  auto parsed = parse_backup_info(text);
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->extra_keys.size(), 2U);
  EXPECT_EQ(parsed->extra_keys[0], std::make_pair(std::string("ZZZ"), std::string("1")));
  EXPECT_EQ(parsed->extra_keys[1], std::make_pair(std::string("AAA"), std::string("two=2")));
  EXPECT_EQ(format_backup_info(*parsed), text);
}

TEST(InfoTest, AcceptsAnyKeyOrderAndMissingKeys) {
  auto parsed = parse_backup_info("TABLESPACES=0\nLABEL=20240102030405\nSTATUS=0\nCOMMENTS=\n");
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->label, "20240102030405");
  EXPECT_FALSE(parsed->valid);
  EXPECT_TRUE(parsed->tablespaces.empty());
}

struct MalformedCase {
  std::string line;
  std::string expected;  // substring of the error message
};

class InfoMalformedTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(InfoMalformedTest, RejectsWithLineAndKey) {
  // Line 1 is LABEL, the case's line is line 2.
  std::string text = "LABEL=20240102030405\n" + GetParam().line + "\n";
  auto parsed = parse_backup_info(text);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(parsed.error().message().find(GetParam().expected), std::string::npos)
      << parsed.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    InfoMalformed, InfoMalformedTest,
    ::testing::Values(MalformedCase{"no equals sign", "line 2: expected key=value"},
                      MalformedCase{"=value", "line 2: expected key=value"},
                      MalformedCase{"BACKUP=12x", "line 2: BACKUP: invalid unsigned integer"},
                      MalformedCase{"BACKUP=-1", "line 2: BACKUP"},
                      MalformedCase{"RESTORE=", "line 2: RESTORE"},
                      MalformedCase{"STATUS=2", "line 2: STATUS"},
                      MalformedCase{"KEEP=yes", "line 2: KEEP"},
                      MalformedCase{"ELAPSED=fast", "line 2: ELAPSED"},
                      MalformedCase{"START_WALPOS=3000028", "line 2: START_WALPOS: invalid LSN"},
                      MalformedCase{"END_WALPOS=0/123456789", "line 2: END_WALPOS"},
                      MalformedCase{"CHKPT_WALPOS=G/0", "line 2: CHKPT_WALPOS"},
                      MalformedCase{"START_TIMELINE=x", "line 2: START_TIMELINE"},
                      MalformedCase{"COMPRESSION=256", "line 2: COMPRESSION"},
                      MalformedCase{"TYPE=2", "line 2: TYPE"},
                      MalformedCase{"MAJOR_VERSION=fifteen", "line 2: MAJOR_VERSION"},
                      MalformedCase{"LABEL=again", "line 2: LABEL: duplicate key"},
                      MalformedCase{"TABLESPACE0=x", "line 2: TABLESPACE0"}));

TEST(InfoTest, RejectsTablespaceCountMismatch) {
  auto missing = parse_backup_info("LABEL=x\nTABLESPACES=1\nTABLESPACE1=tblspc_a\n");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("TABLESPACES"), std::string::npos);
  auto extra = parse_backup_info(
      "LABEL=x\nTABLESPACES=0\nTABLESPACE1=a\nTABLESPACE_OID1=1\nTABLESPACE_PATH1=/a\n");
  ASSERT_FALSE(extra);
  EXPECT_EQ(extra.error().code(), ErrorCode::kCorruption);
}

TEST(InfoTest, RequiresLabel) {
  auto parsed = parse_backup_info("STATUS=1\n");
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message().find("LABEL"), std::string::npos);
}

TEST(InfoTest, LsnFormat) {
  EXPECT_EQ(format_lsn(0), "0/0");
  EXPECT_EQ(format_lsn((uint64_t{0xAB} << 32) | 0xCD), "AB/CD");
  EXPECT_EQ(parse_lsn("ab/cd"), (uint64_t{0xAB} << 32) | 0xCD);
  EXPECT_FALSE(parse_lsn("/1"));
  EXPECT_FALSE(parse_lsn("1/"));
}

TEST(InfoCommentsTest, GetSetRemove) {
  BackupInfo info;
  ASSERT_TRUE(set_comment(info, "owner", "ops"));
  ASSERT_TRUE(set_comment(info, "why", "before upgrade"));
  EXPECT_EQ(info.comments, "owner|ops,why|before upgrade");
  ASSERT_TRUE(set_comment(info, "owner", "dba"));
  EXPECT_EQ(info.comments, "owner|dba,why|before upgrade");
  auto owner = get_comment(info, "owner");
  ASSERT_TRUE(owner);
  EXPECT_EQ(*owner, std::optional<std::string>("dba"));
  auto none = get_comment(info, "nobody");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(remove_comment(info, "owner"));
  EXPECT_EQ(info.comments, "why|before upgrade");
  auto gone = remove_comment(info, "owner");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(remove_comment(info, "why"));
  EXPECT_EQ(info.comments, "");
}

TEST(InfoCommentsTest, RejectsBadInput) {
  BackupInfo info;
  EXPECT_EQ(set_comment(info, "", "v").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(set_comment(info, "a|b", "v").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(set_comment(info, "a,b", "v").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(set_comment(info, "k", "x,y").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(set_comment(info, "k", "x\ny").error().code(), ErrorCode::kInvalidArgument);
  info.comments = "nobar";
  EXPECT_EQ(get_comment(info, "k").error().code(), ErrorCode::kCorruption);
}

// NUL, tabs and other control characters are refused in keys and values; the error quotes at
// most 64 bytes, escaped, however long the input.
TEST(InfoCommentsTest, RejectsControlCharactersAndQuotesLittle) {
  BackupInfo info;
  for (const std::string& bad : {std::string("a\0b", 3), std::string("tab\there"),
                                 std::string("bell\a"), std::string("del\x7f")}) {
    auto as_key = set_comment(info, bad, "v");
    ASSERT_FALSE(as_key);
    EXPECT_NE(as_key.error().message().find("control characters"), std::string::npos);
    EXPECT_EQ(as_key.error().message().find('\0'), std::string::npos);
    EXPECT_FALSE(set_comment(info, "k", bad));
  }
  EXPECT_NE(set_comment(info, std::string("a\0b", 3), "v").error().message().find("a\\x00b"),
            std::string::npos);
  const std::string huge(50u << 20, 'k');
  auto r = set_comment(info, huge + ",", "v");
  ASSERT_FALSE(r);
  EXPECT_LT(r.error().message().size(), 300u);
  EXPECT_NE(r.error().message().find("(52428801 bytes)"), std::string::npos);
  EXPECT_EQ(info.comments, "");
  EXPECT_FALSE(set_comment(info, "owner", "ops team, night shift"));
  EXPECT_TRUE(set_comment(info, "owner", "ops team; night shift"));
}

class LabelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tz = std::getenv("TZ");  // NOLINT(concurrency-mt-unsafe): test setup
    saved_ = tz ? std::optional<std::string>(tz) : std::nullopt;
  }
  void TearDown() override {
    if (saved_) {
      setenv("TZ", saved_->c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
    } else {
      unsetenv("TZ");  // NOLINT(concurrency-mt-unsafe)
    }
    tzset();  // NOLINT(concurrency-mt-unsafe)
  }
  static void use_zone(const char* zone) {
    setenv("TZ", zone, 1);  // NOLINT(concurrency-mt-unsafe)
    tzset();                // NOLINT(concurrency-mt-unsafe)
  }
  std::optional<std::string> saved_;
};

// 2024-01-02 03:04:05 UTC
constexpr std::time_t kEpoch = 1704164645;

TEST_F(LabelTest, UtcRoundTrip) {
  use_zone("UTC");
  auto time = std::chrono::system_clock::from_time_t(kEpoch);
  EXPECT_EQ(make_label(time), "20240102030405");
  auto back = label_time("20240102030405");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, time);
  // Sub-second parts are dropped.
  EXPECT_EQ(make_label(time + std::chrono::milliseconds(999)), "20240102030405");
}

TEST_F(LabelTest, UsesLocalTime) {
  use_zone("Asia/Tokyo");  // UTC+9, no DST; POSIX fallback below if tzdata is missing
  std::string label = make_label(std::chrono::system_clock::from_time_t(kEpoch));
  if (label == "20240102030405") {
    use_zone("JST-9");
    label = make_label(std::chrono::system_clock::from_time_t(kEpoch));
  }
  EXPECT_EQ(label, "20240102120405");
  auto back = label_time(label);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, std::chrono::system_clock::from_time_t(kEpoch));
}

TEST_F(LabelTest, Validation) {
  EXPECT_TRUE(is_label("20240229235959"));
  EXPECT_TRUE(is_label("20000229000000"));
  EXPECT_FALSE(is_label("20230229000000"));  // not a leap year
  EXPECT_FALSE(is_label("19000229000000"));
  EXPECT_FALSE(is_label("2024010203040"));
  EXPECT_FALSE(is_label("202401020304055"));
  EXPECT_FALSE(is_label("2024010203040a"));
  EXPECT_FALSE(is_label("20241302030405"));
  EXPECT_FALSE(is_label("20240100030405"));
  EXPECT_FALSE(is_label("20240431030405"));
  EXPECT_FALSE(is_label("20240102240405"));
  EXPECT_FALSE(is_label("20240102036005"));
  EXPECT_FALSE(is_label("20240102030460"));
  EXPECT_FALSE(is_label("newest"));
  auto bad = label_time("oldest");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
}

// Found by tests/fuzz/backup_info_fuzz: a label past 2262 is a calendar date but overflowed the
// nanosecond clock in label_time (undefined behaviour). It is now "not a representable time".
TEST_F(LabelTest, FarFutureLabelIsNotRepresentable) {
  use_zone("UTC");
  EXPECT_TRUE(is_label("99991231235959"));
  auto far = label_time("99991231235959");
  ASSERT_FALSE(far);
  EXPECT_EQ(far.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(far.error().message().find("not a representable local time"), std::string::npos)
      << far.error().message();
  auto edge = label_time("22620411234716");  // the clock's last whole second
  ASSERT_TRUE(edge) << edge.error().message();
  EXPECT_EQ(*edge, std::chrono::system_clock::from_time_t(9223372036));
  EXPECT_FALSE(label_time("22620411234717"));
}

TEST(Sha512FileTest, FormatAndParse) {
  Sha512Entry info{"backup.info", kAbcHash};
  Sha512Entry data{"data/base/1/1259.zstd", kEmptyHash};
  EXPECT_EQ(format_sha512_line(info), kAbcHash + " *./backup.info\n");
  std::string text = format_sha512_line(info) + format_sha512_line(data);
  auto parsed = parse_sha512_file(text);
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 2U);
  EXPECT_EQ((*parsed)[0], info);
  EXPECT_EQ((*parsed)[1], data);
}

TEST(Sha512FileTest, AcceptsTextModeUpperCaseAndNoDotSlash) {
  std::string upper = kAbcHash;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  auto parsed = parse_sha512_file(upper + "  backup.info");
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 1U);
  EXPECT_EQ((*parsed)[0], (Sha512Entry{"backup.info", kAbcHash}));
}

TEST(Sha512FileTest, RejectsMalformedLines) {
  std::string good = format_sha512_line({"a", kAbcHash});
  for (const std::string& bad :
       {kAbcHash.substr(1) + " *./a", kAbcHash + "*./a", kAbcHash + " -./a", kAbcHash + " *./",
        kAbcHash + " *", "\\" + kAbcHash + " *./a\\nb",
        std::string("z") + kAbcHash.substr(1) + " *./a"}) {
    auto parsed = parse_sha512_file(good + bad + "\n");
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kCorruption);
    EXPECT_NE(parsed.error().message().find("line 2"), std::string::npos)
        << parsed.error().message();
  }
}

TEST(ManifestTest, FormatAndParse) {
  std::vector<ManifestEntry> entries = {
      {"backup_label", kAbcHash}, {"base/1/1259", kEmptyHash}, {"odd,name", kHelloHash}};
  auto text = format_manifest(entries);
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_EQ(*text, "backup_label," + kAbcHash + "\nbase/1/1259," + kEmptyHash + "\nodd,name," +
                       kHelloHash + "\n");
  auto parsed = parse_manifest(*text);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, entries);
}

TEST(ManifestTest, RejectsMalformed) {
  std::string good = "a," + kAbcHash + "\n";
  for (const std::string& bad : {std::string("no comma"), "," + kAbcHash, "a," + kAbcHash.substr(2),
                                 std::string("a,"), "a," + kAbcHash + "x"}) {
    auto parsed = parse_manifest(good + bad + "\n");
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kCorruption);
    EXPECT_NE(parsed.error().message().find("backup.manifest line 2"), std::string::npos)
        << parsed.error().message();
  }
  std::vector<ManifestEntry> newline = {{"a\nb", kAbcHash}};
  EXPECT_FALSE(format_manifest(newline));
  std::vector<ManifestEntry> not_hex = {{"a", "abc"}};
  EXPECT_FALSE(format_manifest(not_hex));
}

std::string pg_manifest(const std::string& files) {
  return R"({"PostgreSQL-Backup-Manifest-Version": 1, "Files": [)" + files +
         R"(], "WAL-Ranges": [{"Timeline": 1, "Start-LSN": "0/3000028", "End-LSN": "0/3000100"}],)"
         R"( "Manifest-Checksum": "00"})";
}

std::string pg_file(const std::string& key, const std::string& path, const std::string& hash) {
  return R"({")" + key + R"(": ")" + path +
         R"(", "Size": 5, "Last-Modified": "2024-01-02 03:04:05 GMT", )"
         R"("Checksum-Algorithm": "SHA512", "Checksum": ")" +
         hash + R"("})";
}

TEST(ManifestCompareTest, AllMatch) {
  std::vector<ManifestEntry> ours = {{"backup_label", kHelloHash}, {"base/1/1", kWorldHash}};
  auto result = compare_with_postgres_manifest(
      ours, pg_manifest(pg_file("Path", "base/1/1", kWorldHash) + "," +
                        pg_file("Path", "backup_label", kHelloHash)));
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_TRUE(result->empty());
}

TEST(ManifestCompareTest, ReportsEveryKindSorted) {
  std::vector<ManifestEntry> ours = {
      {"a_only_ours", kHelloHash}, {"b_differs", kHelloHash}, {"d_same", kAbcHash}};
  std::string upper_abc = kAbcHash;
  for (char& c : upper_abc) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  auto result = compare_with_postgres_manifest(
      ours, pg_manifest(pg_file("Path", "c_only_pg", kWorldHash) + "," +
                        pg_file("Path", "b_differs", kWorldHash) + "," +
                        pg_file("Path", "d_same", upper_abc)));
  ASSERT_TRUE(result) << result.error().message();
  std::vector<ManifestMismatch> expected = {
      {ManifestMismatch::Kind::kMissingInPostgres, "a_only_ours", kHelloHash, ""},
      {ManifestMismatch::Kind::kChecksumDiffers, "b_differs", kHelloHash, kWorldHash},
      {ManifestMismatch::Kind::kMissingInOurs, "c_only_pg", "", kWorldHash},
  };
  EXPECT_EQ(*result, expected);
}

TEST(ManifestCompareTest, DecodesEncodedPath) {
  // "hello" and a name with a byte that is not UTF-8.
  std::string odd_name = std::string("base/") + static_cast<char>(0xff);
  std::vector<ManifestEntry> ours = {{"hello", kHelloHash}, {odd_name, kWorldHash}};
  auto result = compare_with_postgres_manifest(
      ours, pg_manifest(pg_file("Encoded-Path", "68656c6c6f", kHelloHash) + "," +
                        pg_file("Encoded-Path", "626173652fFF", kWorldHash)));
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_TRUE(result->empty());
}

TEST(ManifestCompareTest, RejectsBadDocuments) {
  std::vector<ManifestEntry> ours;
  EXPECT_EQ(compare_with_postgres_manifest(ours, "{not json").error().code(),
            ErrorCode::kCorruption);
  EXPECT_EQ(compare_with_postgres_manifest(ours, "[]").error().code(), ErrorCode::kCorruption);
  EXPECT_EQ(compare_with_postgres_manifest(ours, R"({"Files": 3})").error().code(),
            ErrorCode::kCorruption);
  EXPECT_EQ(compare_with_postgres_manifest(ours, pg_manifest(R"({"Size": 1})")).error().code(),
            ErrorCode::kCorruption);
  EXPECT_EQ(
      compare_with_postgres_manifest(ours, pg_manifest(pg_file("Encoded-Path", "6", kAbcHash)))
          .error()
          .code(),
      ErrorCode::kCorruption);
  EXPECT_EQ(compare_with_postgres_manifest(ours, pg_manifest(pg_file("Path", "a", "nothex")))
                .error()
                .code(),
            ErrorCode::kCorruption);
  std::string short_crc =
      R"({"Path": "a", "Size": 1, "Checksum-Algorithm": "CRC32C", "Checksum": "ab"})";
  EXPECT_EQ(compare_with_postgres_manifest(ours, pg_manifest(short_crc)).error().code(),
            ErrorCode::kCorruption);
  // A CRC32C manifest needs our CRC32C; other algorithms are refused.
  std::string crc =
      R"({"Path": "a", "Size": 1, "Checksum-Algorithm": "CRC32C", "Checksum": "0a0b0c0d"})";
  std::vector<ManifestEntry> without_crc = {{"a", kAbcHash}};
  EXPECT_EQ(compare_with_postgres_manifest(without_crc, pg_manifest(crc)).error().code(),
            ErrorCode::kInvalidArgument);
  std::string sha256 =
      R"({"Path": "a", "Size": 1, "Checksum-Algorithm": "SHA256", "Checksum": "0a0b0c0d"})";
  EXPECT_EQ(compare_with_postgres_manifest(ours, pg_manifest(sha256)).error().code(),
            ErrorCode::kInvalidArgument);
}

TEST(ManifestCompareTest, Crc32cEntriesCompareWithOurCrc) {
  std::string crc =
      R"({"Path": "a", "Size": 1, "Checksum-Algorithm": "CRC32C", "Checksum": "0A0B0C0D"})";
  std::vector<ManifestEntry> same = {{"a", kAbcHash, "0a0b0c0d"}};
  auto ok = compare_with_postgres_manifest(same, pg_manifest(crc));
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->empty());
  std::vector<ManifestEntry> other = {{"a", kAbcHash, "ffffffff"}};
  auto differs = compare_with_postgres_manifest(other, pg_manifest(crc));
  ASSERT_TRUE(differs.has_value());
  ASSERT_EQ(differs->size(), 1u);
  EXPECT_EQ((*differs)[0].kind, ManifestMismatch::Kind::kChecksumDiffers);
}

}  // namespace
}  // namespace pgm::backup

namespace pgm::backup {
namespace {

TEST(ExtraKeysTest, SetReplacesInPlaceAndRemoteCopiesReadStorageKeys) {
  BackupInfo info;
  EXPECT_EQ(extra_key(info, "STORAGE_S3"), nullptr);
  set_extra_key(info, "STORAGE_S3", "");
  set_extra_key(info, "PROVEN_RESTORE", "1");
  set_extra_key(info, "STORAGE_AZURE", "2026-11-26T13:42:07Z");
  EXPECT_TRUE(remote_copies(info) == std::vector<std::string>{"azure"});  // empty: no copy
  set_extra_key(info, "STORAGE_S3", "2026-11-26T13:50:00Z");
  ASSERT_NE(extra_key(info, "STORAGE_S3"), nullptr);
  EXPECT_EQ(*extra_key(info, "STORAGE_S3"), "2026-11-26T13:50:00Z");
  EXPECT_EQ(info.extra_keys.size(), 3u);  // replaced in place, not appended
  EXPECT_EQ(info.extra_keys[0].first, "STORAGE_S3");
  EXPECT_EQ(remote_copies(info), (std::vector<std::string>{"s3", "azure"}));
  // Written and read back through backup.info text.
  info.label = "20260101000000";
  auto parsed = parse_backup_info(format_backup_info(info));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(remote_copies(*parsed), (std::vector<std::string>{"s3", "azure"}));
}

}  // namespace
}  // namespace pgm::backup
