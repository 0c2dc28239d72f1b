#include "pgm/wal/segment_writer.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pgm/io/file.h"

namespace pgm::wal {
namespace {

// Empties a directory (what `rm -f dir/*` did, without a shell).
void remove_entries(const std::string& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::filesystem::remove_all(entry.path());
  }
}

constexpr uint64_t kSeg = uint64_t{1} << 20;  // smallest valid size keeps tests fast
constexpr TimelineId kTli1(1);

std::vector<uint8_t> pattern(size_t size, uint32_t seed) {
  std::vector<uint8_t> out(size);
  uint32_t x = seed;
  for (uint8_t& b : out) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(x >> 24);
  }
  return out;
}

std::string as_string(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

class SegmentWriterTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string read(const std::string& name) const {
    auto r = io::read_file(path(name));
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : std::string();
  }
  SegmentWriter make_writer(TimelineId tli = kTli1) {
    auto w = SegmentWriter::create(dir_, kSeg, tli, [this](const std::string& name) {
      completed_.push_back(name);
      return Result<void>();
    });
    EXPECT_TRUE(w);
    return std::move(*w);
  }

  test_support::TempDir tmp_{"pgm-wal-test"};
  std::string dir_ = tmp_.path();
  std::vector<std::string> completed_;
};

TEST_F(SegmentWriterTest, WritesSpanningThreeSegmentsAtExactOffsets) {
  const Lsn start(2 * kSeg);
  const std::vector<uint8_t> wal = pattern(2 * kSeg + kSeg / 2, 7);
  for (size_t chunk : {wal.size(), size_t{300001}, size_t{65536}}) {
    SCOPED_TRACE(chunk);
    remove_entries(dir_);
    completed_.clear();
    SegmentWriter w = make_writer();
    for (size_t at = 0; at < wal.size(); at += chunk) {
      size_t n = std::min(chunk, wal.size() - at);
      auto r = w.write(start + at, std::span<const uint8_t>(wal).subspan(at, n));
      ASSERT_TRUE(r) << r.error().message();
    }
    EXPECT_EQ(w.position(), start + wal.size());
    auto flushed = w.flush();
    ASSERT_TRUE(flushed);
    EXPECT_EQ(*flushed, start + wal.size());

    EXPECT_EQ(completed_,
              (std::vector<std::string>{"000000010000000000000002", "000000010000000000000003"}));
    std::span<const uint8_t> all(wal);
    EXPECT_EQ(read("000000010000000000000002"), as_string(all.subspan(0, kSeg)));
    EXPECT_EQ(read("000000010000000000000003"), as_string(all.subspan(kSeg, kSeg)));
    std::string partial = read("000000010000000000000004.partial");
    ASSERT_EQ(partial.size(), kSeg);  // preallocated to the full segment
    EXPECT_EQ(partial.substr(0, kSeg / 2), as_string(all.subspan(2 * kSeg)));
    EXPECT_EQ(partial.substr(kSeg / 2), std::string(kSeg / 2, '\0'));
    EXPECT_FALSE(exists(path("000000010000000000000002.partial")));
    EXPECT_EQ(w.current_path(), path("000000010000000000000004.partial"));
  }
}

TEST_F(SegmentWriterTest, NewWriterResumesAtResumePosition) {
  const std::vector<uint8_t> wal = pattern(3 * kSeg, 11);
  std::span<const uint8_t> all(wal);
  {
    SegmentWriter w = make_writer();
    ASSERT_TRUE(w.write(Lsn(0), all.subspan(0, kSeg + 1000)));
    ASSERT_TRUE(w.flush());
  }
  auto resume = resume_position(dir_, kSeg);
  ASSERT_TRUE(resume) << resume.error().message();
  ASSERT_TRUE(resume->has_value());
  EXPECT_EQ(**resume, (ResumePoint{Lsn(kSeg), kTli1}));

  // The server resends from the segment start; the stream continues without a gap.
  SegmentWriter w = make_writer();
  Lsn at = (*resume)->lsn;
  ASSERT_TRUE(w.write(at, all.subspan(at.value(), 2 * kSeg - 10)));
  ASSERT_TRUE(w.close());
  EXPECT_EQ(read("000000010000000000000001"), as_string(all.subspan(kSeg, kSeg)));
  EXPECT_EQ(read("000000010000000000000002.partial").substr(0, kSeg - 10),
            as_string(all.subspan(2 * kSeg, kSeg - 10)));
  EXPECT_EQ(**resume_position(dir_, kSeg), (ResumePoint{Lsn(2 * kSeg), kTli1}));
}

TEST_F(SegmentWriterTest, ResumesMidSegmentIntoExistingPartial) {
  const std::vector<uint8_t> wal = pattern(kSeg, 3);
  std::span<const uint8_t> all(wal);
  {
    SegmentWriter w = make_writer();
    ASSERT_TRUE(w.write(Lsn(0), all.subspan(0, 5000)));
    ASSERT_TRUE(w.close());
  }
  SegmentWriter w = make_writer();
  ASSERT_TRUE(w.write(Lsn(5000), all.subspan(5000)));
  EXPECT_EQ(read("000000010000000000000000"), as_string(all));
}

TEST_F(SegmentWriterTest, RejectsGapsAndStrayOffsets) {
  std::vector<uint8_t> data(100, 1);
  SegmentWriter w = make_writer();
  auto stray = w.write(Lsn(kSeg + 10), data);
  ASSERT_FALSE(stray);
  EXPECT_EQ(stray.error().code(), ErrorCode::kProtocol);

  SegmentWriter w2 = make_writer();
  ASSERT_TRUE(w2.write(Lsn(0), data));
  auto gap = w2.write(Lsn(200), data);
  ASSERT_FALSE(gap);
  EXPECT_EQ(gap.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(gap.error().message(), "wal data at 0/C8, expected 0/64");
}

TEST_F(SegmentWriterTest, SwitchTimelineKeepsOldPartial) {
  std::vector<uint8_t> data(100, 2);
  SegmentWriter w = make_writer();
  ASSERT_TRUE(w.write(Lsn(0), data));
  ASSERT_TRUE(w.switch_timeline(TimelineId(2)));
  ASSERT_TRUE(w.write(Lsn(0), data));
  ASSERT_TRUE(w.close());
  EXPECT_TRUE(exists(path("000000010000000000000000.partial")));
  EXPECT_TRUE(exists(path("000000020000000000000000.partial")));
  EXPECT_EQ(**resume_position(dir_, kSeg), (ResumePoint{Lsn(0), TimelineId(2)}));
}

TEST_F(SegmentWriterTest, CompletionErrorIsReturnedWithSegment) {
  auto w = SegmentWriter::create(dir_, kSeg, kTli1, [](const std::string&) {
    return Result<void>(make_error(ErrorCode::kIo, "disk full"));
  });
  ASSERT_TRUE(w);
  std::vector<uint8_t> data(kSeg, 3);
  auto r = w->write(Lsn(0), data);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "segment 000000010000000000000000: disk full");
  EXPECT_TRUE(exists(path("000000010000000000000000")));
}

TEST_F(SegmentWriterTest, RejectsInvalidSegmentSize) {
  EXPECT_FALSE(SegmentWriter::create(dir_, 3 * kSeg, kTli1, nullptr));
  EXPECT_FALSE(SegmentWriter::create(dir_, kSeg, TimelineId(0), nullptr));
}

struct ResumeCase {
  std::vector<std::string> files;
  std::optional<ResumePoint> want;
};

TEST_F(SegmentWriterTest, ResumePositionPicksNewestSegment) {
  const std::vector<ResumeCase> cases = {
      {{}, std::nullopt},
      {{"00000001.history", "junk"}, std::nullopt},
      {{"000000010000000000000007.zstd.aes"}, ResumePoint{Lsn(8 * kSeg), kTli1}},
      {{"000000010000000000000003", "000000010000000000000004.partial"},
       ResumePoint{Lsn(4 * kSeg), kTli1}},
      {{"000000010000000000000004", "000000010000000000000004.partial"},
       ResumePoint{Lsn(4 * kSeg), kTli1}},
      {{"000000010000000000000005.partial", "000000020000000000000005.lz4"},
       ResumePoint{Lsn(6 * kSeg), TimelineId(2)}},
      {{"000000010000000100000000.gz", "000000010000000000000FFF"},  // 4096 per log id
       ResumePoint{Lsn(4097 * kSeg), kTli1}},
  };
  for (const ResumeCase& c : cases) {
    remove_entries(dir_);
    for (const std::string& f : c.files) {
      ASSERT_TRUE(io::write_file_atomic(path(f), "x", 0600));
    }
    auto r = resume_position(dir_, kSeg);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, c.want) << (c.files.empty() ? "" : c.files[0]);
  }
}

TEST_F(SegmentWriterTest, ResumePositionRejectsNameForOtherSegmentSize) {
  ASSERT_TRUE(io::write_file_atomic(path("000000010000000000000100"), "x", 0600));
  auto r = resume_position(dir_, 16 * kSeg);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(path("000000010000000000000100")), std::string::npos);
  EXPECT_TRUE(resume_position(dir_, kSeg));  // fits 1 MiB segments
}

class FinishSegmentTest : public SegmentWriterTest {
 protected:
  void SetUp() override {
    SegmentWriterTest::SetUp();
    key_.bytes = pattern(crypto::kMasterKeyLength, 99);
    plain_ = pattern(kSeg, 5);
    // Compressible half: WAL segments are mostly zeros at the end.
    std::fill(plain_.begin() + kSeg / 2, plain_.end(), 0);
    ASSERT_TRUE(io::write_file_atomic(path(kName), as_string(plain_), 0600));
  }
  std::vector<uint8_t> decode(const std::string& name, compress::Algorithm a, crypto::AesMode m) {
    std::string stored = read(name);
    std::vector<uint8_t> bytes(stored.begin(), stored.end());
    if (m != crypto::AesMode::kNone) {
      auto d = crypto::aes_decrypt(key_, m, bytes);
      EXPECT_TRUE(d);
      bytes = d ? *d : std::vector<uint8_t>();
    }
    auto out = compress::decompress(a, bytes);
    EXPECT_TRUE(out);
    return out ? *out : std::vector<uint8_t>();
  }

  static constexpr const char* kName = "000000010000000000000009";
  crypto::MasterKey key_;
  std::vector<uint8_t> plain_;
};

TEST_F(FinishSegmentTest, ZstdAesRoundTrip) {
  auto out = finish_segment(dir_, kName, compress::Algorithm::kZstd, 3, crypto::AesMode::kAes256Gcm,
                            &key_);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(*out, std::string(kName) + ".zstd.aes");
  EXPECT_FALSE(exists(path(kName)));
  EXPECT_EQ(decode(*out, compress::Algorithm::kZstd, crypto::AesMode::kAes256Gcm), plain_);
  WalFileInfo info = classify_wal_file(*out);
  EXPECT_EQ(info.kind, WalFileKind::kSegment);
  EXPECT_TRUE(info.encrypted);
}

TEST_F(FinishSegmentTest, EachAlgorithmRoundTrips) {
  using compress::Algorithm;
  for (Algorithm a : {Algorithm::kGzip, Algorithm::kLz4, Algorithm::kBzip2}) {
    SCOPED_TRACE(std::string(compress::algorithm_name(a)));
    ASSERT_TRUE(io::write_file_atomic(path(kName), as_string(plain_), 0600));
    auto out = finish_segment(dir_, kName, a, 1, crypto::AesMode::kNone, nullptr);
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(*out, std::string(kName) + std::string(compress::file_suffix(a)));
    EXPECT_EQ(decode(*out, a, crypto::AesMode::kNone), plain_);
    EXPECT_FALSE(exists(path(kName)));
    ASSERT_EQ(::unlink(path(*out).c_str()), 0);  // else the next round finds it stored
  }
}

TEST_F(FinishSegmentTest, ReusedFinisherHandlesManySegments) {
  SegmentFinisher finisher(compress::Algorithm::kZstd, 3, crypto::AesMode::kAes256Gcm, &key_);
  for (int i = 1; i <= 3; ++i) {
    std::string name = fmt::format("0000000100000000000000{:02X}", i);
    std::vector<uint8_t> content(plain_.begin(),
                                 plain_.begin() + static_cast<long>(plain_.size() / i));
    ASSERT_TRUE(io::write_file_atomic(path(name), as_string(content), 0600));
    auto out = finisher.finish(dir_, name);
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(*out, name + ".zstd.aes");
    std::string stored = read(*out);
    auto dec = crypto::aes_decrypt(key_, crypto::AesMode::kAes256Gcm,
                                   std::vector<uint8_t>(stored.begin(), stored.end()));
    ASSERT_TRUE(dec);
    EXPECT_EQ(*compress::decompress(compress::Algorithm::kZstd, *dec), content);
  }
}

TEST_F(FinishSegmentTest, AnEarlierStoredFormWinsAfterASettingsChange) {
  // A crash left the plain segment beside its complete .zstd, and temps of two attempts; the
  // receiver now runs with lz4: the segment must end up stored once, as the .zstd.
  ASSERT_TRUE(io::write_file_atomic(path(std::string(kName) + ".zstd"), "complete", 0600));
  ASSERT_TRUE(io::write_file_atomic(path(std::string(kName) + ".zstd.tmp.4242"), "x", 0600));
  ASSERT_TRUE(io::write_file_atomic(path(std::string(kName) + ".lz4.tmp.77"), "y", 0600));
  auto out =
      finish_segment(dir_, kName, compress::Algorithm::kLz4, 1, crypto::AesMode::kNone, nullptr);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(*out, std::string(kName) + ".zstd");
  EXPECT_FALSE(exists(path(kName)));
  EXPECT_FALSE(exists(path(std::string(kName) + ".lz4")));
  EXPECT_FALSE(exists(path(std::string(kName) + ".zstd.tmp.4242")));
  EXPECT_FALSE(exists(path(std::string(kName) + ".lz4.tmp.77")));
  EXPECT_EQ(read(*out), "complete");
}

TEST_F(FinishSegmentTest, NothingToDoKeepsPlainFile) {
  auto out =
      finish_segment(dir_, kName, compress::Algorithm::kNone, 0, crypto::AesMode::kNone, nullptr);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, kName);
  EXPECT_TRUE(exists(path(kName)));
}

TEST_F(FinishSegmentTest, RemovesLeftoverTempFromCrash) {
  std::string out_name = std::string(kName) + ".zstd";
  ASSERT_TRUE(io::write_file_atomic(path(out_name + ".tmp.999999"), "half written", 0600));
  auto out =
      finish_segment(dir_, kName, compress::Algorithm::kZstd, 3, crypto::AesMode::kNone, nullptr);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_FALSE(exists(path(out_name + ".tmp.999999")));
  EXPECT_EQ(decode(out_name, compress::Algorithm::kZstd, crypto::AesMode::kNone), plain_);
}

TEST_F(FinishSegmentTest, ExistingOutputOnlyRemovesPlainFile) {
  std::string out_name = std::string(kName) + ".zstd";
  ASSERT_TRUE(io::write_file_atomic(path(out_name), "earlier complete output", 0600));
  auto out =
      finish_segment(dir_, kName, compress::Algorithm::kZstd, 3, crypto::AesMode::kNone, nullptr);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(read(out_name), "earlier complete output");
  EXPECT_FALSE(exists(path(kName)));
  // Running again after the plain file is gone is still fine.
  EXPECT_TRUE(
      finish_segment(dir_, kName, compress::Algorithm::kZstd, 3, crypto::AesMode::kNone, nullptr));
}

TEST_F(FinishSegmentTest, ReportsMissingInputAndMissingKey) {
  auto no_key = finish_segment(dir_, kName, compress::Algorithm::kNone, 0,
                               crypto::AesMode::kAes256Gcm, nullptr);
  ASSERT_FALSE(no_key);
  EXPECT_EQ(no_key.error().code(), ErrorCode::kInvalidArgument);
  auto missing = finish_segment(dir_, "000000010000000000000001", compress::Algorithm::kZstd, 3,
                                crypto::AesMode::kNone, nullptr);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find(path("000000010000000000000001")), std::string::npos);
}

}  // namespace
}  // namespace pgm::wal
