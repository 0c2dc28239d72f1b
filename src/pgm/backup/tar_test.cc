#include "pgm/backup/tar.h"

#include <unistd.h>
#include <utime.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "support/bytes.h"
#include "support/temp_dir.h"
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

namespace pgm::backup {
namespace {

namespace fs = std::filesystem;

// ---- helpers ---------------------------------------------------------------------------

using test_support::random_string;
using test_support::read_text;
using test_support::write_text;

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Member {
  TarEntry entry;
  std::string data;
  bool ended = false;
};

// Records what the reader reports and checks the begin/data/end protocol.
class RecordingSink : public TarSink {
 public:
  Result<void> begin(const TarEntry& entry) override {
    if (!members.empty() && !members.back().ended) {
      protocol_errors.push_back("begin before end of " + members.back().entry.path);
    }
    members.push_back(Member{entry, {}, false});
    return {};
  }
  Result<void> data(std::span<const uint8_t> bytes) override {
    if (members.empty() || members.back().ended) {
      protocol_errors.push_back("data outside a member");
      return {};
    }
    if (bytes.empty()) {
      protocol_errors.push_back("empty data chunk");
    }
    members.back().data.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return {};
  }
  Result<void> end() override {
    if (members.empty() || members.back().ended) {
      protocol_errors.push_back("end outside a member");
      return {};
    }
    members.back().ended = true;
    return {};
  }

  const Member* find(const std::string& path) const {
    for (const Member& m : members) {
      if (m.entry.path == path) {
        return &m;
      }
    }
    return nullptr;
  }

  std::vector<Member> members;
  std::vector<std::string> protocol_errors;
};

// Feeds `archive` in chunks of `chunk` bytes (0: all at once), then finishes.
Result<void> read_all(TarReader& reader, std::string_view archive, size_t chunk) {
  if (chunk == 0) {
    chunk = archive.size() + 1;
  }
  for (size_t pos = 0; pos < archive.size(); pos += chunk) {
    PGM_TRY(reader.feed(as_bytes(archive.substr(pos, chunk))));
  }
  return reader.finish();
}

// ---- hand-made archives ----------------------------------------------------------------

struct Header {
  std::string name;
  char type = '0';
  uint64_t size = 0;
  std::string link;
  std::string prefix;
  bool base256_size = false;
  std::string magic = std::string("ustar\0", 6);
  std::string version = "00";
  uint32_t mode = 0644;
  int64_t mtime = 1700000000;

  explicit Header(std::string n, char t = '0') : name(std::move(n)), type(t) {}
  Header& with_size(uint64_t v) {
    size = v;
    return *this;
  }
  Header& with_link(std::string v) {
    link = std::move(v);
    return *this;
  }
  Header& with_prefix(std::string v) {
    prefix = std::move(v);
    return *this;
  }
  Header& with_base256_size() {
    base256_size = true;
    return *this;
  }
  Header& with_gnu_magic() {
    magic = "ustar ";
    version = std::string(" \0", 2);
    return *this;
  }
  Header& with_mode(uint32_t v) {
    mode = v;
    return *this;
  }
};

void put(std::string& block, size_t offset, size_t length, const std::string& value) {
  ASSERT_LE(value.size(), length) << value;
  block.replace(offset, value.size(), value);
}

// A header block the way PostgreSQL's and GNU tar's writers lay it out.
std::string header_block(const Header& h) {
  std::string b(512, '\0');
  put(b, 0, 100, h.name);
  put(b, 100, 8, fmt::format("{:07o}", h.mode));
  put(b, 108, 8, "0000000");
  put(b, 116, 8, "0000000");
  if (h.base256_size) {
    b[124] = static_cast<char>(0x80);
    for (int i = 0; i < 8; ++i) {
      b[135 - i] = static_cast<char>((h.size >> (8 * i)) & 0xff);
    }
  } else {
    put(b, 124, 12, fmt::format("{:011o}", h.size));
  }
  put(b, 136, 12, fmt::format("{:011o}", h.mtime));
  b[156] = h.type;
  put(b, 157, 100, h.link);
  put(b, 257, 6, h.magic);
  put(b, 263, 2, h.version);
  put(b, 265, 32, "postgres");
  put(b, 297, 32, "postgres");
  put(b, 345, 155, h.prefix);
  b.replace(148, 8, 8, ' ');
  unsigned sum = 0;
  for (char c : b) {
    sum += static_cast<uint8_t>(c);
  }
  put(b, 148, 8, fmt::format("{:06o}", sum) + std::string("\0 ", 2));
  return b;
}

class ArchiveBuilder {
 public:
  ArchiveBuilder& add(Header h, const std::string& data = "") {
    if (h.size == 0) {
      h.size = data.size();
    }
    out_ += header_block(h);
    out_ += data;
    out_.append((512 - data.size() % 512) % 512, '\0');
    return *this;
  }
  ArchiveBuilder& file(const std::string& name, const std::string& data) {
    return add(Header(name, '0').with_size(data.size()), data);
  }
  ArchiveBuilder& pax(const std::string& records, char type = 'x') {
    return add(Header("PaxHeaders/x", type).with_size(records.size()), records);
  }
  ArchiveBuilder& gnu_long(char type, const std::string& value) {
    std::string body = value + std::string(1, '\0');
    return add(Header("././@LongLink", type).with_size(body.size()).with_gnu_magic(), body);
  }
  ArchiveBuilder& raw(const std::string& bytes) {
    out_ += bytes;
    return *this;
  }
  std::string end() { return out_ + std::string(1024, '\0'); }
  std::string without_end() { return out_; }

 private:
  std::string out_;
};

// "<len> key=value\n" with len counting itself.
std::string pax_record(const std::string& key, const std::string& value) {
  const size_t body = key.size() + value.size() + 3;  // ' ', '=', '\n'
  size_t len = body + std::to_string(body).size();
  if (std::to_string(len).size() != std::to_string(body).size()) {
    ++len;
  }
  return fmt::format("{} {}={}\n", len, key, value);
}

// ---- archives made by GNU tar ----------------------------------------------------------

struct Expected {
  TarType type;
  std::string content;
  std::string link;
};

const std::string kLongDir = "d/" + std::string(60, 'a');
const std::string kLongFile = kLongDir + "/" + std::string(60, 'b') + ".txt";  // > 100 chars
const std::string kLongTarget = "target/" + std::string(140, 'c');             // > 100 chars

class TarGnuArchives : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    tmp_ = std::make_unique<test_support::TempDir>("pgm-tar-test");
    dir_ = tmp_->path();
    const std::string src = dir_ + "/src";
    fs::create_directories(src + "/" + kLongDir);
    write_text(src + "/" + kLongFile, random_string(777, 1));
    write_text(src + "/empty", "");
    write_text(src + "/f512", random_string(512, 2));
    write_text(src + "/f513", random_string(513, 3));
    write_text(src + "/big", random_string(3 * 1024 * 1024, 4));
    ASSERT_EQ(::chmod((src + "/f512").c_str(), 0640), 0);
    const struct utimbuf times { 1600000000, 1600000000 };
    ASSERT_EQ(::utime((src + "/f512").c_str(), &times), 0);
    ASSERT_EQ(::symlink("target/somewhere", (src + "/link").c_str()), 0);
    ASSERT_EQ(::symlink(kLongTarget.c_str(), (src + "/longlink").c_str()), 0);
    ASSERT_EQ(::link((src + "/f513").c_str(), (src + "/hard").c_str()), 0);

    expected_ = {
        {"d", {TarType::kDirectory, "", ""}},
        {kLongDir, {TarType::kDirectory, "", ""}},
        {kLongFile, {TarType::kFile, random_string(777, 1), ""}},
        {"empty", {TarType::kFile, "", ""}},
        {"f512", {TarType::kFile, random_string(512, 2), ""}},
        {"f513", {TarType::kFile, random_string(513, 3), ""}},
        {"hard", {TarType::kHardlink, "", "f513"}},
        {"link", {TarType::kSymlink, "", "target/somewhere"}},
        {"big", {TarType::kFile, random_string(3 * 1024 * 1024, 4), ""}},
    };
    for (const char* format : {"ustar", "gnu", "pax"}) {
      // ustar cannot store a link target over 100 characters.
      const bool long_link = std::string(format) != "ustar";
      const std::string out = fmt::format("{}/{}.tar", dir_, format);
      const std::string cmd =
          fmt::format("tar --format={} -cf {} -C {} d empty f512 f513 hard link big{}", format, out,
                      src, long_link ? " longlink" : "");
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
      archives_[format] = read_text(out);
    }
    // Small, with blocking factor 1: ends exactly after the two zero blocks.
    const std::string small = dir_ + "/small.tar";
    const std::string cmd = fmt::format(
        "tar --format=gnu -b1 -cf {} -C {} d empty f512 f513 hard link longlink", small, src);
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    archives_["small"] = read_text(small);
  }

  static void TearDownTestSuite() { tmp_.reset(); }

 protected:
  static std::unique_ptr<test_support::TempDir> tmp_;
  static std::string dir_;
  static std::map<std::string, std::string> archives_;
  static std::map<std::string, Expected> expected_;
};

std::unique_ptr<test_support::TempDir> TarGnuArchives::tmp_;
std::string TarGnuArchives::dir_;
std::map<std::string, std::string> TarGnuArchives::archives_;
std::map<std::string, Expected> TarGnuArchives::expected_;

class TarFormatTest : public TarGnuArchives,
                      public ::testing::WithParamInterface<std::tuple<std::string, size_t>> {};

TEST_P(TarFormatTest, ReproducesEveryMember) {
  const auto& [format, chunk] = GetParam();
  const std::string& archive = archives_.at(format);
  ASSERT_FALSE(archive.empty());
  RecordingSink sink;
  TarReader reader(sink);
  auto r = read_all(reader, archive, chunk);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(reader.offset(), archive.size());
  EXPECT_TRUE(sink.protocol_errors.empty()) << sink.protocol_errors.front();

  std::map<std::string, Expected> expected = expected_;
  if (format != "ustar") {
    expected["longlink"] = {TarType::kSymlink, "", kLongTarget};
  }
  ASSERT_EQ(sink.members.size(), expected.size());
  for (const auto& [path, want] : expected) {
    const Member* m = sink.find(path);
    ASSERT_NE(m, nullptr) << path;
    EXPECT_TRUE(m->ended) << path;
    EXPECT_EQ(m->entry.type, want.type) << path;
    EXPECT_EQ(m->entry.size, want.content.size()) << path;
    EXPECT_EQ(m->data.size(), want.content.size()) << path;
    EXPECT_TRUE(m->data == want.content) << path << ": content differs";
    EXPECT_EQ(m->entry.link_target, want.link) << path;
  }
  const Member* f512 = sink.find("f512");
  EXPECT_EQ(f512->entry.mode & 07777, 0640u);
  EXPECT_EQ(f512->entry.mtime, 1600000000);
}

INSTANTIATE_TEST_SUITE_P(TarFormats, TarFormatTest,
                         ::testing::Combine(::testing::Values("ustar", "gnu", "pax"),
                                            ::testing::Values(1, 7, 512, 4096, 0)),
                         [](const auto& param_info) {
                           const size_t chunk = std::get<1>(param_info.param);
                           return std::get<0>(param_info.param) +
                                  (chunk == 0 ? std::string("Whole")
                                              : "Chunk" + std::to_string(chunk));
                         });

TEST_F(TarGnuArchives, TruncationAtAnyOffsetIsAnError) {
  const std::string& archive = archives_.at("small");
  ASSERT_EQ(archive.size() % 512, 0u);
  for (size_t cut = 0; cut < archive.size(); ++cut) {
    RecordingSink sink;
    TarReader reader(sink);
    auto r = read_all(reader, std::string_view(archive).substr(0, cut), cut % 2 == 0 ? 0 : 7);
    ASSERT_FALSE(r) << "cut at " << cut;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption) << r.error().message();
    EXPECT_FALSE(reader.done());
    if (!sink.members.empty() && !sink.members.back().ended) {
      EXPECT_NE(r.error().message().find(sink.members.back().entry.path), std::string::npos)
          << "cut at " << cut << ": " << r.error().message();
    }
  }
  RecordingSink sink;
  TarReader reader(sink);
  EXPECT_TRUE(read_all(reader, archive, 0));
}

TEST_F(TarGnuArchives, TruncatedBigMemberNamesIt) {
  const std::string& archive = archives_.at("gnu");
  const size_t big_start = archive.find(random_string(64, 4));
  ASSERT_NE(big_start, std::string::npos);
  for (size_t cut : {big_start, big_start + 1, big_start + 1024 * 1024 + 3,
                     big_start + 3 * 1024 * 1024 - 512, big_start + 3 * 1024 * 1024 - 1}) {
    RecordingSink sink;
    TarReader reader(sink);
    auto r = read_all(reader, std::string_view(archive).substr(0, cut), 4096);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
    EXPECT_NE(r.error().message().find("\"big\""), std::string::npos) << r.error().message();
  }
}

// ---- hand-made archives ----------------------------------------------------------------

TEST(TarReaderTest, CorruptedChecksumNamesTheOffset) {
  const std::string good = ArchiveBuilder().file("a", random_string(100, 1)).file("b", "x").end();
  {
    std::string bad = good;
    bad[3] ^= 0x01;  // inside the first name
    RecordingSink sink;
    TarReader reader(sink);
    auto r = reader.feed(as_bytes(bad));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
    EXPECT_NE(r.error().message().find("offset 0: checksum mismatch"), std::string::npos)
        << r.error().message();
    EXPECT_TRUE(sink.members.empty());
  }
  {
    std::string bad = good;
    bad[1024 + 124 + 10] ^= 0x01;  // second header's size field
    RecordingSink sink;
    TarReader reader(sink);
    auto r = reader.feed(as_bytes(bad));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
    EXPECT_NE(r.error().message().find("offset 1024: checksum mismatch"), std::string::npos)
        << r.error().message();
    ASSERT_EQ(sink.members.size(), 1u);  // the first member streamed before the damage
    EXPECT_EQ(sink.members[0].data, random_string(100, 1));
  }
  {
    std::string bad = good;
    bad[148] = 'x';  // checksum field itself not octal
    RecordingSink sink;
    TarReader reader(sink);
    auto r = reader.feed(as_bytes(bad));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
  }
}

TEST(TarReaderTest, RejectsUnsafePaths) {
  struct Case {
    std::string archive;
    std::string path;
  };
  const std::vector<Case> cases = {
      {ArchiveBuilder().file("../evil", "x").end(), "../evil"},
      {ArchiveBuilder().file("a/../../evil", "x").end(), "a/../../evil"},
      {ArchiveBuilder().file("a/..", "x").end(), "a/.."},
      {ArchiveBuilder().file("/abs", "x").end(), "/abs"},
      {ArchiveBuilder().add(Header("x", '5').with_prefix("/etc")).end(), "/etc/x"},
      {ArchiveBuilder().gnu_long('L', "ok/../../evil").file("short", "x").end(), "ok/../../evil"},
      {ArchiveBuilder().pax(pax_record("path", "/etc/passwd")).file("short", "x").end(),
       "/etc/passwd"},
      {ArchiveBuilder().add(Header("h", '1').with_link("../outside")).end(), "../outside"},
  };
  for (const Case& c : cases) {
    RecordingSink sink;
    TarReader reader(sink);
    auto r = read_all(reader, c.archive, 0);
    ASSERT_FALSE(r) << c.path;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
    EXPECT_NE(r.error().message().find("\"" + c.path + "\""), std::string::npos)
        << r.error().message();
    EXPECT_TRUE(sink.members.empty()) << c.path;
  }
  // Absolute symlink targets are fine: pg_tblspc links point outside the data directory.
  RecordingSink sink;
  TarReader reader(sink);
  ASSERT_TRUE(read_all(reader, ArchiveBuilder().add(Header("l", '2').with_link("/x")).end(), 0));
  ASSERT_EQ(sink.members.size(), 1u);
  EXPECT_EQ(sink.members[0].entry.link_target, "/x");
}

class FailingSink : public RecordingSink {
 public:
  enum class Where { kBegin, kData, kEnd };
  explicit FailingSink(Where where) : where_(where) {}
  Result<void> begin(const TarEntry& entry) override {
    if (where_ == Where::kBegin && entry.path == "b") {
      return make_error(ErrorCode::kIo, "write b: No space left on device");
    }
    return RecordingSink::begin(entry);
  }
  Result<void> data(std::span<const uint8_t> bytes) override {
    if (where_ == Where::kData && members.back().data.size() >= 600) {
      return make_error(ErrorCode::kIo, "write b: No space left on device");
    }
    return RecordingSink::data(bytes);
  }
  Result<void> end() override {
    if (where_ == Where::kEnd && members.back().entry.path == "b") {
      return make_error(ErrorCode::kIo, "write b: No space left on device");
    }
    return RecordingSink::end();
  }

 private:
  Where where_;
};

TEST(TarReaderTest, SinkErrorStopsTheReader) {
  const std::string archive =
      ArchiveBuilder().file("a", "aaa").file("b", random_string(2000, 5)).file("c", "ccc").end();
  for (auto where :
       {FailingSink::Where::kBegin, FailingSink::Where::kData, FailingSink::Where::kEnd}) {
    FailingSink sink(where);
    TarReader reader(sink);
    auto r = read_all(reader, archive, 100);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kIo);
    EXPECT_EQ(r.error().message(), "write b: No space left on device");
    EXPECT_EQ(sink.find("c"), nullptr);
    // Stuck: the same error again, and no further sink calls.
    const size_t seen = sink.members.size();
    auto again = reader.feed(as_bytes(archive));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().message(), "write b: No space left on device");
    EXPECT_EQ(sink.members.size(), seen);
    EXPECT_FALSE(reader.finish());
  }
}

TEST(TarReaderTest, ReadsPostgresShapedArchive) {
  // Laid out as PostgreSQL's tarCreateHeader() does: POSIX ustar magic, no prefix, directories
  // and tablespace symlinks with a trailing '/', 11-digit octal sizes; BASE_BACKUP (15+) ends
  // each tablespace archive with two zero blocks.
  const std::string label = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n";
  const std::string rel = random_string(8192, 6);
  const std::string control = random_string(8192, 7);
  ArchiveBuilder b;
  b.file("backup_label", label)
      .add(Header("base/", '5').with_mode(0700))
      .add(Header("base/1/", '5').with_mode(0700))
      .add(Header("base/1/1259").with_size(rel.size()).with_mode(0600), rel)
      .add(Header("pg_tblspc/16384/", '2').with_link("/srv/tblspc/16384").with_mode(0777))
      .add(Header("global/pg_control").with_size(control.size()).with_mode(0600), control);
  const std::string archive = b.end();

  // CopyData chunks of uneven sizes.
  RecordingSink sink;
  TarReader reader(sink);
  const std::vector<size_t> chunks = {32768, 1, 8191, 100, 511, 513};
  size_t pos = 0;
  for (size_t i = 0; pos < archive.size(); ++i) {
    const size_t n = std::min(chunks[i % chunks.size()], archive.size() - pos);
    ASSERT_TRUE(reader.feed(as_bytes(std::string_view(archive).substr(pos, n))));
    pos += n;
  }
  ASSERT_TRUE(reader.finish());
  EXPECT_TRUE(reader.done());
  EXPECT_TRUE(sink.protocol_errors.empty());
  ASSERT_EQ(sink.members.size(), 6u);
  EXPECT_EQ(sink.members[0].entry.path, "backup_label");
  EXPECT_EQ(sink.members[0].data, label);
  EXPECT_EQ(sink.members[1].entry.path, "base");
  EXPECT_EQ(sink.members[1].entry.type, TarType::kDirectory);
  EXPECT_EQ(sink.members[1].entry.mode, 0700u);
  EXPECT_EQ(sink.members[2].entry.path, "base/1");
  EXPECT_EQ(sink.members[3].entry.path, "base/1/1259");
  EXPECT_EQ(sink.members[3].entry.size, 8192u);
  EXPECT_TRUE(sink.members[3].data == rel);
  EXPECT_EQ(sink.members[3].entry.mtime, 1700000000);
  EXPECT_EQ(sink.members[4].entry.path, "pg_tblspc/16384");
  EXPECT_EQ(sink.members[4].entry.type, TarType::kSymlink);
  EXPECT_EQ(sink.members[4].entry.link_target, "/srv/tblspc/16384");
  EXPECT_EQ(sink.members[5].entry.path, "global/pg_control");
  EXPECT_TRUE(sink.members[5].data == control);

  // PostgreSQL 14 and older stop right after the last member's padding.
  const std::string old_style = b.without_end();
  {
    RecordingSink s;
    TarReader strict(s);
    auto r = read_all(strict, old_style, 0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
    EXPECT_NE(r.error().message().find("end-of-archive marker"), std::string::npos);
  }
  {
    RecordingSink s;
    TarReader lenient(s, /*accept_missing_trailer=*/true);
    ASSERT_TRUE(read_all(lenient, old_style, 1000));
    EXPECT_TRUE(lenient.done());
    EXPECT_EQ(s.members.size(), 6u);
    // Still strict about a member cut short.
    RecordingSink s2;
    TarReader lenient2(s2, true);
    auto r = read_all(lenient2, std::string_view(old_style).substr(0, old_style.size() - 600), 0);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("global/pg_control"), std::string::npos);
  }
}

TEST(TarReaderTest, ExtendedHeadersAndNumberForms) {
  const std::string long_name = "x/" + std::string(200, 'n');
  const std::string long_link = std::string(150, 'k');
  const std::string archive =
      ArchiveBuilder()
          .pax(pax_record("comment", "ignored"), 'g')
          .add(Header("b256").with_size(1000).with_base256_size(), random_string(1000, 8))
          .pax(pax_record("size", "700") + pax_record("mtime", "1.5") +
               pax_record("path", "pax/" + std::string(120, 'p')))
          .add(Header("ignored-name").with_size(0), random_string(700, 9))
          .gnu_long('L', long_name)
          .gnu_long('K', long_link)
          .add(Header("short", '2').with_link("short-target"))
          .add(Header("fifo", '6'))
          .add(Header("weird", 'Z').with_size(10), "0123456789")
          .file("after", "tail")
          .end() +
      std::string(4096, '\0');  // record padding after the end marker is fine
  RecordingSink sink;
  TarReader reader(sink);
  auto r = read_all(reader, archive, 3);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(sink.protocol_errors.empty());
  ASSERT_EQ(sink.members.size(), 6u);
  EXPECT_EQ(sink.members[0].entry.path, "b256");
  EXPECT_EQ(sink.members[0].entry.size, 1000u);
  EXPECT_TRUE(sink.members[0].data == random_string(1000, 8));
  EXPECT_EQ(sink.members[1].entry.path, "pax/" + std::string(120, 'p'));
  EXPECT_EQ(sink.members[1].entry.size, 700u);
  EXPECT_TRUE(sink.members[1].data == random_string(700, 9));
  EXPECT_EQ(sink.members[2].entry.path, long_name);
  EXPECT_EQ(sink.members[2].entry.type, TarType::kSymlink);
  EXPECT_EQ(sink.members[2].entry.link_target, long_link);
  EXPECT_EQ(sink.members[3].entry.path, "fifo");
  EXPECT_EQ(sink.members[3].entry.type, TarType::kOther);
  EXPECT_EQ(sink.members[4].entry.path, "weird");
  EXPECT_EQ(sink.members[4].entry.type, TarType::kOther);
  EXPECT_EQ(sink.members[4].entry.size, 10u);
  EXPECT_TRUE(sink.members[4].data.empty());
  EXPECT_TRUE(sink.members[4].ended);
  EXPECT_EQ(sink.members[5].entry.path, "after");
  EXPECT_EQ(sink.members[5].data, "tail");
}

TEST(TarReaderTest, MalformedArchivesAreCorruption) {
  const std::string one = ArchiveBuilder().file("a", "abc").without_end();
  auto fix_checksum = [](std::string& block) {
    block.replace(148, 8, 8, ' ');
    unsigned sum = 0;
    for (char c : block) {
      sum += static_cast<uint8_t>(c);
    }
    block.replace(148, 8, fmt::format("{:06o}", sum) + std::string("\0 ", 2));
  };
  std::string bad_size = header_block(Header("a").with_size(3));
  bad_size[124] = '9';
  fix_checksum(bad_size);
  std::string negative = header_block(Header("n").with_size(5).with_base256_size());
  for (size_t i = 124; i < 135; ++i) {
    negative[i] = static_cast<char>(0xff);
  }
  fix_checksum(negative);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"data after end", one + std::string(1024, '\0') + "junk"},
      {"zero block then header", one + std::string(512, '\0') + one + std::string(1024, '\0')},
      {"single zero block", one + std::string(512, '\0')},
      {"no end marker", one},
      {"truncated header", one + one.substr(0, 100)},
      {"bad octal size", bad_size + std::string(1024, '\0')},
      {"negative size", negative + std::string(1024, '\0')},
      {"malformed pax", ArchiveBuilder().pax("12 path=x\n").file("a", "b").end()},
      {"pax without member", ArchiveBuilder().pax(pax_record("path", "p")).end()},
      {"huge long name", ArchiveBuilder()
                             .add(Header("././@LongLink", 'L').with_size(uint64_t{1} << 30))
                             .without_end()},
  };
  for (const auto& [what, archive] : cases) {
    RecordingSink sink;
    TarReader reader(sink);
    auto r = read_all(reader, archive, 0);
    ASSERT_FALSE(r) << what;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption) << what;
    EXPECT_FALSE(reader.done()) << what;
  }
}

}  // namespace
}  // namespace pgm::backup
