// WAL streaming into a full disk: the receiver must pause streaming and say so once, keep its
// own files bounded, keep everything it already stored, and once space is back compress what
// it could not (without a restart) and resume from what is durable, leaving a gap-free,
// byte-identical sequence. base_dir lives on a small tmpfs, so the test needs root (mount);
// it skips otherwise.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "integration/harness.h"
#include "integration/wal_helpers.h"
#include <sys/mount.h>

namespace pgm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kSegmentSize = uint64_t{16} << 20;

// Occurrences of `needle` in `text`.
size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// Writes `path` until the file system is full; returns the bytes written.
size_t fill_up(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return 0;
  }
  std::string chunk(1 << 16, 'x');
  size_t total = 0;
  for (;;) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n <= 0) {
      break;
    }
    total += static_cast<size_t>(n);
  }
  ::close(fd);
  return total;
}

bool is_segment_name(const std::string& n) {
  return n.size() == 24 && std::all_of(n.begin(), n.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
         });
}

// Segment number of a 24-hex name for 16 MiB segments.
uint64_t segno(const std::string& name) {
  uint64_t log = std::stoull(name.substr(8, 8), nullptr, 16);
  uint64_t seg = std::stoull(name.substr(16, 8), nullptr, 16);
  return log * 0x100 + seg;
}

class WalDiskFullTest : public DaemonTest {
 protected:
  bool auto_start() const override { return false; }

  void TearDown() override {
    DaemonTest::TearDown();
    if (pg() != nullptr) {
      pg()->psql(
          "SELECT pg_drop_replication_slot('diskfull') FROM pg_replication_slots "
          "WHERE slot_name = 'diskfull'");
      pg()->psql("ALTER SYSTEM RESET wal_keep_size");
      pg()->psql("SELECT pg_reload_conf()");
    }
    if (!mount_point_.empty()) {
      ::umount2(mount_point_.c_str(), MNT_DETACH);
    }
  }

  std::string mount_point_;
};

TEST_F(WalDiskFullTest, ResumesWithoutGapWhenSpaceComesBack) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to mount a small tmpfs";
  }
  std::string mnt = daemon().dir().make_dir("small");
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=96m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount tmpfs: " << std::strerror(errno);
  }
  mount_point_ = mnt;
  chown_to_test_user(mnt);
  // 56 MiB of ballast: room for two 16 MiB segments, not for a third; six once it is gone.
  std::string ballast = mnt + "/ballast";
  {
    std::ofstream out(ballast, std::ios::binary);
    std::string mib(1 << 20, 'x');
    for (int i = 0; i < 56; ++i) {
      out << mib;
    }
  }
  ASSERT_EQ(pg()->psql("ALTER SYSTEM SET wal_keep_size = '2GB'").exit_code, 0);
  ASSERT_EQ(pg()->psql("SELECT pg_reload_conf()").exit_code, 0);

  daemon().config().set("pgmoneta", "base_dir", mnt + "/base");
  daemon().config().set("pgmoneta", "compression", "none");
  daemon().config().set("primary", "wal_slot", "diskfull");
  start_daemon();
  const std::string wal_dir = mnt + "/base/primary/wal";

  auto streaming = [&] {
    CliResult r = cli({"status", "details"}, "json");
    if (!r.json) {
      return false;
    }
    nlohmann::json server = find_server(*r.json, "primary");
    const nlohmann::json* s = find_key(server, "WalStreaming");
    return s != nullptr && s->is_boolean() && s->get<bool>();
  };
  auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (!streaming() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(200));
  }
  ASSERT_TRUE(streaming()) << tail(daemon().log());

  // ~60 MB of WAL: more than the disk can take.
  ASSERT_EQ(pg()->psql("CREATE TABLE diskfull AS SELECT i, md5(i::text) || md5((i+1)::text) "
                       "AS filler FROM generate_series(1, 400000) i")
                .exit_code,
            0);
  // Streaming pauses, said once, before or when a segment cannot be allocated.
  ASSERT_TRUE(daemon().wait_for_log("disk full in " + wal_dir, seconds(60)))
      << tail(daemon().log());

  // Space comes back: the receiver resumes by itself.
  ASSERT_EQ(::unlink(ballast.c_str()), 0);
  CommandOutput last = pg()->psql("SELECT pg_walfile_name(pg_current_wal_lsn())");
  ASSERT_EQ(last.exit_code, 0);
  std::string current = trim(last.out);
  ASSERT_EQ(pg()->psql("SELECT pg_switch_wal()").exit_code, 0);
  deadline = std::chrono::steady_clock::now() + seconds(90);
  while (!path_exists(wal_dir + "/" + current) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(200));
  }
  ASSERT_TRUE(path_exists(wal_dir + "/" + current)) << tail(daemon().log());

  // Every complete segment, from the first to `current`, is present once and identical to
  // the server's copy.
  std::vector<std::string> segments;
  for (const std::string& n : list_dir(wal_dir)) {
    if (is_segment_name(n)) {
      segments.push_back(n);
    }
  }
  ASSERT_GE(segments.size(), 4U) << "too little WAL to cross the full-disk point";
  for (size_t i = 1; i < segments.size(); ++i) {
    EXPECT_EQ(segno(segments[i]), segno(segments[i - 1]) + 1)
        << "gap between " << segments[i - 1] << " and " << segments[i];
  }
  for (const std::string& n : segments) {
    std::string ours = read_text(wal_dir + "/" + n);
    std::string theirs = read_text(pg()->data_dir() + "/pg_wal/" + n);
    ASSERT_EQ(ours.size(), kSegmentSize) << n;
    ASSERT_EQ(theirs.size(), kSegmentSize) << n << " is no longer in pg_wal";
    EXPECT_TRUE(ours == theirs) << n << " differs from pg_wal/" << n;
  }
  EXPECT_TRUE(streaming());
  ASSERT_TRUE(daemon().wait_for_log("disk space available again in " + wal_dir, seconds(10)))
      << tail(daemon().log());
  std::string log = daemon().log();
  EXPECT_EQ(count_of(log, "streaming paused"), 1U) << tail(log);
  EXPECT_EQ(count_of(log, "streaming again"), 1U) << tail(log);
  pg()->psql("DROP TABLE diskfull");
}

// With compression, a segment completed on a full disk cannot be compressed: it stays plain,
// streaming pauses instead of piling up more plain segments, and when space comes back the
// plain segment is compressed and streaming resumes, all without a restart.
TEST_F(WalDiskFullTest, CompressesWhatWaitedOnceSpaceComesBack) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to mount a small tmpfs";
  }
  std::string mnt = daemon().dir().make_dir("small");
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=128m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount tmpfs: " << std::strerror(errno);
  }
  mount_point_ = mnt;
  chown_to_test_user(mnt);
  ASSERT_EQ(pg()->psql("ALTER SYSTEM SET wal_keep_size = '2GB'").exit_code, 0);
  ASSERT_EQ(pg()->psql("SELECT pg_reload_conf()").exit_code, 0);

  daemon().config().set("pgmoneta", "base_dir", mnt + "/base");
  daemon().config().set("pgmoneta", "compression", "zstd");
  daemon().config().set("primary", "wal_slot", "diskfull");
  start_daemon();
  const std::string wal_dir = mnt + "/base/primary/wal";
  // Caught up with the server, and everything complete is compressed.
  std::string target = sql_value(*pg(), "SELECT pg_current_wal_lsn()");
  auto target_lsn = wal::Lsn::parse(target);
  ASSERT_TRUE(target_lsn) << target;
  std::string last;
  ASSERT_TRUE(wait_for_details(
      daemon(), "primary",
      [&](const nlohmann::json& s) {
        auto received = wal::Lsn::parse(json_string(s, "WalReceivedLsn"));
        return json_bool(s, "WalStreaming") && received && *received >= *target_lsn &&
               json_int(s, "WalUnfinishedSegments", 0) == 0 &&
               unfinished_files(wal_dir, ".zstd").empty();
      },
      seconds(30), &last))
      << last << tail(daemon().log());
  // The receiver's .partial is allocated in full; now nothing else fits.
  std::string ballast = mnt + "/ballast";
  size_t log_before = daemon().log().size();  // catching up may already have paused briefly
  ASSERT_GT(fill_up(ballast), 0U);

  // ~60 MB of WAL: the open segment completes (it needs no new space), its compressed form
  // does not fit, and the next segment cannot be allocated.
  ASSERT_EQ(pg()->psql("CREATE TABLE diskfull AS SELECT i, md5(i::text) || md5((i+1)::text) "
                       "AS filler FROM generate_series(1, 400000) i")
                .exit_code,
            0);
  ASSERT_TRUE(
      daemon().wait_for_log("segment waiting to be compressed, streaming paused", seconds(30)))
      << tail(daemon().log());
  std::vector<std::string> plain = unfinished_files(wal_dir, ".zstd");
  ASSERT_EQ(plain.size(), 1U) << ::testing::PrintToString(list_dir(wal_dir));
  // Paused: it stays so, with no more plain segments and no more log lines (no reconnect
  // per back-off step), while the disk is full.
  std::this_thread::sleep_for(seconds(4));
  EXPECT_EQ(unfinished_files(wal_dir, ".zstd"), plain)
      << ::testing::PrintToString(list_dir(wal_dir));
  nlohmann::json paused = server_details(daemon(), "primary");
  EXPECT_FALSE(json_bool(paused, "WalStreaming")) << paused.dump();
  EXPECT_EQ(json_int(paused, "WalUnfinishedSegments"), 1) << paused.dump();
  EXPECT_NE(json_string(paused, "WalLastError").find("disk full in " + wal_dir), std::string::npos)
      << paused.dump();

  std::string while_full = daemon().log().substr(log_before);
  EXPECT_EQ(count_of(while_full, "streaming paused"), 1U) << tail(while_full);
  // The receiver's own lines: other parts of the daemon (the record of its children in
  // base_dir) may say once that they could not write either.
  EXPECT_EQ(count_of(while_full, "wal primary: cannot compress/encrypt"), 1U)
      << "only the compression failure, once: " << tail(while_full);
  EXPECT_EQ(count_of(while_full, "No space left on device"),
            1U + count_of(while_full, "record the daemon's children"))
      << tail(while_full);
  EXPECT_LE(count_of(while_full, "record the daemon's children"), 1U) << tail(while_full);

  // Space comes back: the plain segment is compressed and streaming resumes by itself.
  size_t log_full = daemon().log().size();
  ASSERT_EQ(::unlink(ballast.c_str()), 0);
  std::string settled = wait_for_settled_segment(wal_dir, plain[0], ".zstd", seconds(20));
  EXPECT_EQ(settled, "") << settled;
  std::string error;
  std::string current = switch_wal(*pg(), &error);
  ASSERT_FALSE(current.empty()) << error;
  settled = wait_for_settled_segment(wal_dir, current, ".zstd", seconds(30));
  ASSERT_EQ(settled, "") << settled << tail(daemon().log());

  WalDirCheckOptions o;
  o.wal_dir = wal_dir;
  o.reference_dir = pg()->data_dir() + "/pg_wal";
  o.suffix = ".zstd";
  WalDirCheck check = check_wal_dir(o);
  EXPECT_TRUE(check.problems.empty()) << check.summary();
  EXPECT_GE(check.compared, 4U) << check.summary();

  nlohmann::json after = server_details(daemon(), "primary");
  EXPECT_EQ(json_int(after, "WalUnfinishedSegments"), 0) << after.dump();
  EXPECT_EQ(json_string(after, "WalLastError"), "") << after.dump();

  // Once space was back: the waiting segment was stored, and the recovery said so. (On a disk
  // this small, catching up with the server may pause again briefly while the compressor
  // lags: each pause is one line, and one line says it is over.)
  std::string log = daemon().log().substr(log_full);
  EXPECT_NE(log.find("after an earlier failure"), std::string::npos) << tail(log);
  EXPECT_GE(count_of(log, "disk space available again in " + wal_dir), 1U) << tail(log);
  EXPECT_EQ(count_of(log, "disk space available again in " + wal_dir),
            count_of(log, "streaming paused") + 1)
      << tail(log);
  pg()->psql("DROP TABLE diskfull");
}

}  // namespace
}  // namespace pgm::testing
