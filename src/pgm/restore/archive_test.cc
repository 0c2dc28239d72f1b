#include "pgm/restore/archive.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include <gtest/gtest.h>

#include "pgm/backup/tar.h"
#include "pgm/compress/codec.h"
#include "pgm/crypto/aes.h"
#include "pgm/io/file.h"
#include "pgm/restore/tar_writer.h"

namespace pgm::restore {
namespace {

namespace fs = std::filesystem;

using test_support::TempDir;

std::string content(size_t size, int seed) {
  std::string s;
  s.reserve(size + 32);
  for (int i = 0; s.size() < size; ++i) {
    s += "block " + std::to_string(seed) + ":" + std::to_string(i * 7919 % 10007) + ";";
  }
  s.resize(size);
  return s;
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const std::string& path) {
  auto r = io::read_file(path);
  return r ? *r : std::string("<missing>");
}

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Collects what TarReader reports: path -> type, content or link target.
struct Entry {
  backup::TarType type = backup::TarType::kOther;
  std::string data;
  std::string link;
  uint32_t mode = 0;
};

class CollectSink : public backup::TarSink {
 public:
  Result<void> begin(const backup::TarEntry& e) override {
    current_ = e.path;
    Entry& entry = entries[e.path];
    entry.type = e.type;
    entry.link = e.link_target;
    entry.mode = e.mode;
    return {};
  }
  Result<void> data(std::span<const uint8_t> b) override {
    entries[current_].data.append(reinterpret_cast<const char*>(b.data()), b.size());
    return {};
  }
  Result<void> end() override { return {}; }

  std::map<std::string, Entry> entries;

 private:
  std::string current_;
};

Result<std::map<std::string, Entry>> read_tar(const std::string& archive) {
  CollectSink sink;
  backup::TarReader reader(sink);
  // Odd split sizes: headers and data cross feed() boundaries.
  for (size_t off = 0; off < archive.size(); off += 777) {
    size_t n = std::min<size_t>(777, archive.size() - off);
    PGM_TRY(reader.feed(bytes_of(archive).subspan(off, n)));
  }
  PGM_TRY(reader.finish());
  return sink.entries;
}

struct Sample {
  std::string path;
  std::string data;
};

// Names of 100, 101, 150, 255 and 300 bytes, empty and exactly block-sized files.
std::vector<Sample> samples() {
  std::string dir150 = std::string(60, 'd') + "/" + std::string(40, 'e');
  return {
      {"PG_VERSION", "15\n"},
      {"empty", ""},
      {"one", "x"},
      {"block", content(512, 1)},
      {"block_plus_one", content(513, 2)},
      {"big", content((size_t{1} << 20) + 3, 3)},
      {std::string(100, 'a'), "100"},
      {std::string(101, 'b'), "101"},
      {dir150 + "/" + std::string(49, 'f'), "150"},
      {std::string(154, 'g') + "/" + std::string(100, 'h'), "255"},
      {std::string(200, 'i') + "/" + std::string(99, 'j'), "300"},
  };
}

std::string make_tar(const std::vector<Sample>& files) {
  std::string out;
  TarWriter tar([&out](std::span<const uint8_t> b) -> Result<void> {
    out.append(reinterpret_cast<const char*>(b.data()), b.size());
    return {};
  });
  EXPECT_TRUE(tar.add_directory("base", 0700, 1700000000));
  EXPECT_TRUE(tar.add_directory(std::string(60, 'd'), 0700, 0));
  EXPECT_TRUE(tar.add_directory(std::string(60, 'd') + "/" + std::string(40, 'e'), 0700, 0));
  EXPECT_TRUE(tar.add_directory(std::string(154, 'g'), 0700, 0));
  EXPECT_TRUE(tar.add_directory(std::string(200, 'i'), 0700, 0));
  for (const Sample& s : files) {
    EXPECT_TRUE(tar.add_file(s.path, 0600, s.data.size(), 1700000000));
    // Uneven chunks.
    for (size_t off = 0; off < s.data.size(); off += 100000) {
      std::string_view part = std::string_view(s.data).substr(off, 100000);
      EXPECT_TRUE(tar.write_data(bytes_of(std::string(part))));
    }
  }
  EXPECT_TRUE(tar.add_symlink("link", "/some/where/else"));
  EXPECT_TRUE(tar.add_symlink("long_link", "/" + std::string(150, 'k')));
  EXPECT_TRUE(tar.finish());
  EXPECT_EQ(out.size() % 512, 0u);
  EXPECT_EQ(tar.bytes_written(), out.size());
  return out;
}

TEST(TarWriterTest, RoundTripsThroughTarReader) {
  std::vector<Sample> files = samples();
  std::string archive = make_tar(files);
  auto entries = read_tar(archive);
  ASSERT_TRUE(entries) << entries.error().message();
  for (const Sample& s : files) {
    ASSERT_EQ(entries->count(s.path), 1u) << s.path.size();
    const Entry& e = entries->at(s.path);
    EXPECT_EQ(e.type, backup::TarType::kFile);
    EXPECT_EQ(e.data, s.data) << s.path.size();
    EXPECT_EQ(e.mode, 0600u);
  }
  EXPECT_EQ(entries->at("base").type, backup::TarType::kDirectory);
  EXPECT_EQ(entries->at(std::string(200, 'i')).type, backup::TarType::kDirectory);
  EXPECT_EQ(entries->at("link").link, "/some/where/else");
  EXPECT_EQ(entries->at("long_link").link, "/" + std::string(150, 'k'));
  EXPECT_EQ(entries->size(), files.size() + 5 + 2);
}

TEST(TarWriterTest, SystemTarListsAndExtractsIt) {
  std::vector<Sample> files = samples();
  std::string archive = make_tar(files);
  TempDir dir;
  std::string file = dir.path() + "/t.tar";
  write_text(file, archive);
  std::string list = dir.path() + "/list.txt";
  ASSERT_EQ(std::system(("tar -tvf " + file + " > " + list + " 2>&1").c_str()), 0)
      << read_text(list);
  EXPECT_NE(read_text(list).find(std::string(200, 'i') + "/" + std::string(99, 'j')),
            std::string::npos);
  std::string out = dir.path() + "/x";
  fs::create_directories(out);
  ASSERT_EQ(std::system(("tar -xf " + file + " -C " + out + " > " + list + " 2>&1").c_str()), 0)
      << read_text(list);
  for (const Sample& s : files) {
    EXPECT_EQ(read_text(out + "/" + s.path), s.data) << s.path.size();
    EXPECT_EQ(fs::file_size(out + "/" + s.path), s.data.size());
  }
  EXPECT_EQ(fs::read_symlink(out + "/long_link").string(), "/" + std::string(150, 'k'));
  EXPECT_TRUE(fs::is_directory(out + "/base"));
}

TEST(TarWriterTest, RejectsBadPathsAndWrongSizes) {
  std::string out;
  TarWriter tar([&out](std::span<const uint8_t> b) -> Result<void> {
    out.append(reinterpret_cast<const char*>(b.data()), b.size());
    return {};
  });
  for (const char* bad : {"", "/etc/passwd", "a/../b", "..", "./x", "a//b"}) {
    EXPECT_FALSE(tar.add_directory(bad, 0700, 0)) << bad;
  }
  ASSERT_TRUE(tar.add_file("f", 0600, 3, 0));
  EXPECT_FALSE(tar.write_data(bytes_of("abcd")));
  EXPECT_FALSE(tar.add_directory("d", 0700, 0));  // two bytes still missing
  EXPECT_FALSE(tar.finish());
  ASSERT_TRUE(tar.write_data(bytes_of("abc")));
  ASSERT_TRUE(tar.finish());
  EXPECT_FALSE(tar.add_directory("d", 0700, 0));
}

TEST(TarWriterTest, StopsAtTheFirstSinkError) {
  int calls = 0;
  TarWriter tar([&calls](std::span<const uint8_t>) -> Result<void> {
    ++calls;
    return make_error(ErrorCode::kIo, "disk full");
  });
  auto r = tar.add_directory("d", 0700, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "disk full");
  EXPECT_FALSE(tar.add_directory("e", 0700, 0));
  EXPECT_EQ(calls, 1);
}

// A small data directory with a tablespace linked from pg_tblspc, as a restore leaves it.
struct DataDir {
  TempDir root;
  std::string data;
  std::string tablespace;
  DataDir() {
    data = root.path() + "/data";
    tablespace = root.path() + "/data-tblspc_ts1";
    write_text(data + "/PG_VERSION", "15\n");
    write_text(data + "/base/1/1259", content(3 * (size_t{1} << 20) + 17, 4));
    write_text(data + "/base/1/empty", "");
    write_text(data + "/global/pg_control", content(8192, 5));
    fs::create_directories(data + "/pg_wal");
    fs::create_directories(data + "/pg_tblspc");
    write_text(tablespace + "/PG_15_202209061/5/16390", content(100000, 6));
    fs::create_symlink(tablespace, data + "/pg_tblspc/16389");
  }
};

Result<std::string> decode(const std::string& path, compress::Algorithm a, crypto::AesMode m,
                           const crypto::MasterKey* key) {
  PGM_ASSIGN_OR_RETURN(std::string raw, io::read_file(path));
  std::vector<uint8_t> bytes(raw.begin(), raw.end());
  if (m != crypto::AesMode::kNone) {
    PGM_ASSIGN_OR_RETURN(bytes, crypto::aes_decrypt(*key, m, bytes));
  }
  if (a != compress::Algorithm::kNone) {
    PGM_ASSIGN_OR_RETURN(bytes, compress::decompress(a, bytes, 256u << 20));
  }
  return std::string(bytes.begin(), bytes.end());
}

crypto::MasterKey test_key() {
  crypto::MasterKey k;
  k.bytes.assign(crypto::kMasterKeyLength, 0x5a);
  return k;
}

struct ArchiveCase {
  const char* name;
  compress::Algorithm algorithm;
  crypto::AesMode encryption;
  const char* suffix;
};

// Test names show the case's name, not its bytes.
void PrintTo(const ArchiveCase& c, std::ostream* os) { *os << c.name; }

class ArchiveFormatTest : public ::testing::TestWithParam<ArchiveCase> {};

TEST_P(ArchiveFormatTest, StoresTheTreeWithTablespacesAsDirectories) {
  const ArchiveCase& c = GetParam();
  DataDir d;
  TempDir out;
  crypto::MasterKey key = test_key();
  ArchiveOptions o;
  o.source_dir = d.data;
  o.directory = out.path();
  o.server = "primary";
  o.label = "20260101120000";
  o.algorithm = c.algorithm;
  o.encryption = c.encryption;
  o.key = &key;
  uint64_t last_done = 0;
  uint64_t last_total = 0;
  o.on_progress = [&](uint64_t done, uint64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  };
  auto r = write_archive(o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->path, out.path() + "/archive-primary-20260101120000.tar" + c.suffix);
  EXPECT_EQ(r->size, fs::file_size(r->path));
  EXPECT_EQ(r->files, 5u);
  EXPECT_EQ(last_done, last_total);
  EXPECT_EQ(r->bytes, last_total);
  EXPECT_EQ(fs::status(r->path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(std::distance(fs::directory_iterator(out.path()), fs::directory_iterator()), 1);

  auto tar = decode(r->path, c.algorithm, c.encryption, &key);
  ASSERT_TRUE(tar) << tar.error().message();
  EXPECT_EQ(tar->size(), r->tar_bytes);
  auto entries = read_tar(*tar);
  ASSERT_TRUE(entries) << entries.error().message();
  EXPECT_EQ(entries->at("PG_VERSION").data, "15\n");
  EXPECT_EQ(entries->at("base/1/1259").data, read_text(d.data + "/base/1/1259"));
  EXPECT_EQ(entries->at("base/1/empty").data, "");
  EXPECT_EQ(entries->at("pg_wal").type, backup::TarType::kDirectory);
  EXPECT_EQ(entries->at("pg_tblspc/16389").type, backup::TarType::kDirectory);
  EXPECT_EQ(entries->at("pg_tblspc/16389/PG_15_202209061/5/16390").data,
            read_text(d.tablespace + "/PG_15_202209061/5/16390"));

  // The system tar extracts the plain tar as well.
  std::string plain = out.path() + "/plain.tar";
  write_text(plain, *tar);
  std::string x = out.path() + "/x";
  fs::create_directories(x);
  ASSERT_EQ(std::system(("tar -xf " + plain + " -C " + x).c_str()), 0);
  EXPECT_EQ(read_text(x + "/base/1/1259"), read_text(d.data + "/base/1/1259"));
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(x + "/pg_tblspc/16389")));
}

INSTANTIATE_TEST_SUITE_P(
    Formats, ArchiveFormatTest,
    ::testing::Values(
        ArchiveCase{"none", compress::Algorithm::kNone, crypto::AesMode::kNone, ""},
        ArchiveCase{"gzip", compress::Algorithm::kGzip, crypto::AesMode::kNone, ".gz"},
        ArchiveCase{"lz4", compress::Algorithm::kLz4, crypto::AesMode::kNone, ".lz4"},
        ArchiveCase{"bzip2", compress::Algorithm::kBzip2, crypto::AesMode::kNone, ".bz2"},
        ArchiveCase{"zstd_aes", compress::Algorithm::kZstd, crypto::AesMode::kAes256Gcm,
                    ".zstd.aes"},
        ArchiveCase{"none_aes", compress::Algorithm::kNone, crypto::AesMode::kAes128Gcm, ".aes"}),
    [](const ::testing::TestParamInfo<ArchiveCase>& i) { return std::string(i.param.name); });

TEST(ArchiveTest, SystemTarReadsTheGzipArchiveDirectly) {
  DataDir d;
  TempDir out;
  ArchiveOptions o;
  o.source_dir = d.data;
  o.directory = out.path();
  o.server = "s";
  o.label = "l";
  o.algorithm = compress::Algorithm::kGzip;
  auto r = write_archive(o);
  ASSERT_TRUE(r) << r.error().message();
  std::string x = out.path() + "/x";
  fs::create_directories(x);
  ASSERT_EQ(std::system(("tar -xzf " + r->path + " -C " + x).c_str()), 0);
  EXPECT_EQ(read_text(x + "/global/pg_control"), read_text(d.data + "/global/pg_control"));
}

TEST(ArchiveTest, NeverOverwritesAnExistingArchive) {
  DataDir d;
  TempDir out;
  ArchiveOptions o;
  o.source_dir = d.data;
  o.directory = out.path();
  o.server = "primary";
  o.label = "l1";
  o.algorithm = compress::Algorithm::kZstd;
  std::string existing = out.path() + "/archive-primary-l1.tar.zstd";
  write_text(existing, "keep me");
  auto r = write_archive(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("already exists"), std::string::npos) << r.error().message();
  EXPECT_EQ(read_text(existing), "keep me");
  EXPECT_EQ(std::distance(fs::directory_iterator(out.path()), fs::directory_iterator()), 1);
}

TEST(ArchiveTest, FailureLeavesNoFileBehind) {
  DataDir d;
  TempDir out;
  // A tablespace link to nowhere: the archive fails and nothing stays in the directory.
  fs::create_symlink(d.root.path() + "/missing", d.data + "/pg_tblspc/16400");
  ArchiveOptions o;
  o.source_dir = d.data;
  o.directory = out.path();
  o.server = "primary";
  o.label = "l2";
  auto r = write_archive(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("16400"), std::string::npos) << r.error().message();
  EXPECT_TRUE(fs::is_empty(out.path()));

  // Encryption without a key.
  fs::remove(d.data + "/pg_tblspc/16400");
  o.encryption = crypto::AesMode::kAes256Gcm;
  r = write_archive(o);
  ASSERT_FALSE(r);
  EXPECT_TRUE(fs::is_empty(out.path()));

  // An output directory that does not exist.
  o.encryption = crypto::AesMode::kNone;
  o.directory = out.path() + "/nope";
  r = write_archive(o);
  ASSERT_FALSE(r);
  EXPECT_TRUE(fs::is_empty(out.path()));
}

}  // namespace
}  // namespace pgm::restore
