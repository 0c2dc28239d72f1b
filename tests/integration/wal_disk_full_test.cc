// WAL streaming into a full disk: the receiver must report the failure, keep everything it
// already stored, and once space is back resume from what is durable, leaving a gap-free,
// byte-identical sequence. base_dir lives on a small tmpfs, so the test needs root (mount);
// it skips otherwise.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "integration/harness.h"
#include <sys/mount.h>

namespace pgm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kSegmentSize = uint64_t{16} << 20;

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe): own DIR*
      std::string n = e->d_name;
      if (n != "." && n != "..") {
        names.push_back(n);
      }
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
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
  ASSERT_TRUE(daemon().wait_for_log("No space left on device", seconds(60)))
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
  pg()->psql("DROP TABLE diskfull");
}

}  // namespace
}  // namespace pgm::testing
