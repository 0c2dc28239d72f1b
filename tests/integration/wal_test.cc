// The WAL receiver end to end: the real daemon streams from a real PostgreSQL 15 and every
// complete segment it stores (in any compression, encrypted or not) must decode to exactly the
// bytes of the same file in PostgreSQL's pg_wal, with no gap and no duplicate, across receiver
// kills (also while compressing), server restarts, terminated walsenders, daemon restarts,
// `mode offline/online`, reloads, a promoted standby's timeline switch (live and while the
// daemon is down), `follow`, wal_shipping, as a synchronous standby, and a backup taken from a
// standby. Slot problems must show in `status details`. Crash states too narrow to hit with a
// signal are crafted on disk while the daemon is stopped.
//
// One PostgreSQL for the suite, configured to keep every segment in pg_wal (wal_keep_size) so
// the tests can compare; wal_level = logical for the logical-slot case. Tests that need a
// standby or another cluster start it themselves. Each test's `[   INFO   ]` lines say how
// many segments it compared.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>

#include "integration/harness.h"
#include "integration/wal_helpers.h"

#include "pgm/core/scope_exit.h"
#include "pgm/wal/history.h"
#include "pgm/wal/lsn.h"

namespace pgm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

bool streaming(const nlohmann::json& s) {
  return json_bool(s, "WalStreaming") && json_int(s, "WalReceiverPid", 0) > 0;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) {
    s += (s.empty() ? "" : ", ") + x;
  }
  return s;
}

class WalTest : public PostgresSuite {
 public:
  static void SetUpTestSuite() {
    PostgresSuite::SetUpTestSuite();
    suite_error() = "";
    if (pg() == nullptr) {
      return;  // skipped or failed: PostgresSuite::SetUp reports it
    }
    // Keep every segment so the stored copies can be compared with pg_wal; logical for the
    // logical-slot test.
    for (const char* sql :
         {"ALTER SYSTEM SET wal_keep_size = '4GB'", "ALTER SYSTEM SET max_wal_size = '8GB'",
          "ALTER SYSTEM SET checkpoint_timeout = '1h'", "ALTER SYSTEM SET wal_level = 'logical'"}) {
      CommandOutput r = pg()->psql(sql);
      if (r.exit_code != 0) {
        suite_error() = std::string(sql) + ": " + r.describe();
        return;
      }
    }
    if (std::string err = pg()->restart(); !err.empty()) {
      suite_error() = "restart with the WAL settings: " + err;
    }
  }

 protected:
  struct Managed {
    std::string label;
    std::unique_ptr<DaemonInstance> daemon;
    std::vector<std::string> expected_errors;
  };

  static std::string& suite_error() {
    static std::string error;
    return error;
  }

  void SetUp() override {
    PostgresSuite::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    ASSERT_TRUE(suite_error().empty()) << suite_error();
  }

  void TearDown() override {
    for (Managed& m : daemons_) {
      if (m.daemon->process().pid() <= 0) {
        continue;
      }
      if (!m.daemon->process().running()) {
        ADD_FAILURE() << "daemon " << m.label << " exited during the test with status "
                      << m.daemon->process().exit_status().value_or(-1);
      } else {
        std::optional<int> status = m.daemon->stop();
        EXPECT_EQ(status, std::optional<int>(0))
            << "daemon " << m.label << " did not exit 0 within 15 s of SIGTERM";
      }
      EXPECT_TRUE(wait_group_gone(m.daemon->process(), seconds(5)))
          << "processes of daemon " << m.label << " survive it";
      std::vector<std::string> errors = m.daemon->unexpected_errors(m.expected_errors);
      EXPECT_TRUE(errors.empty()) << "unexpected ERROR lines in the log of daemon " << m.label
                                  << ":\n"
                                  << join(errors);
    }
    if (HasFailure()) {
      for (Managed& m : daemons_) {
        std::cerr << "---- pgmoneta.log of " << m.label << " (tail) ----\n"
                  << tail(m.daemon->log(), 80) << "---- stderr ----\n"
                  << tail(m.daemon->stderr_text()) << "---- end ----\n";
      }
      if (pg() != nullptr) {
        std::cerr << "---- postgres.log (tail) ----\n" << tail(pg()->log(), 40) << "---- end\n";
      }
    }
    daemons_.clear();
    for (const auto& [instance, slot] : slots_) {
      if (instance->running()) {
        std::string err = drop_slot(*instance, slot);
        EXPECT_TRUE(err.empty()) << err;
      }
    }
    slots_.clear();
    second_.reset();
    second_dir_.reset();
    extra_dir_.reset();
  }

  // A daemon streaming `target` (default: the suite's PostgreSQL) through slot `slot` in
  // [primary]; `configure` adjusts the config before the start. The slot is dropped after the
  // test. ASSERT-style: check HasFatalFailure() after calling.
  DaemonInstance* start_daemon(const std::string& label, const std::string& slot,
                               const std::function<void(IniConfig&)>& configure = nullptr,
                               PostgresInstance* target = nullptr) {
    PostgresInstance* instance = target != nullptr ? target : pg();
    // A new physical slot reserves WAL from the last checkpoint's redo point (checkpoint_timeout
    // is long here): a checkpoint first keeps each test from re-streaming what earlier ones
    // wrote.
    if (target == nullptr) {
      EXPECT_EQ(sql_value(*instance, "CHECKPOINT"), "");
    }
    Managed m;
    m.label = label;
    m.daemon = std::make_unique<DaemonInstance>(instance);
    m.daemon->config().set("primary", "wal_slot", slot);
    m.daemon->config().set("primary", "create_slot", "yes");
    if (configure) {
      configure(m.daemon->config());
    }
    slots_.emplace_back(instance, slot);
    daemons_.push_back(std::move(m));
    DaemonInstance* d = daemons_.back().daemon.get();
    std::string err = d->start();
    EXPECT_TRUE(err.empty()) << "daemon " << label << ": " << err;
    return err.empty() ? d : nullptr;
  }

  void expect_log_errors(const DaemonInstance* d, const std::vector<std::string>& substrings) {
    for (Managed& m : daemons_) {
      if (m.daemon.get() == d) {
        m.expected_errors.insert(m.expected_errors.end(), substrings.begin(), substrings.end());
      }
    }
  }

  // Waits until the receiver of `server` streams; returns its status object (null on timeout,
  // with a failure added).
  nlohmann::json wait_streaming(const DaemonInstance& d, const std::string& server = "primary",
                                std::chrono::milliseconds timeout = seconds(60),
                                const std::function<bool(const nlohmann::json&)>& extra = nullptr) {
    std::string last;
    std::optional<nlohmann::json> s = wait_for_details(
        d, server, [&](const nlohmann::json& j) { return streaming(j) && (!extra || extra(j)); },
        timeout, &last);
    EXPECT_TRUE(s.has_value()) << "receiver of " << server << " not streaming after "
                               << timeout.count() << " ms; last status: " << last;
    return s ? *s : nlohmann::json(nullptr);
  }

  static bool wait_group_gone(const Process& p, std::chrono::milliseconds timeout) {
    auto deadline = steady_clock::now() + timeout;
    while (p.group_alive()) {
      if (steady_clock::now() >= deadline) {
        return false;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return true;
  }

  // Switches WAL on `instance`, waits until every listed wal dir holds the switched segment in
  // its final form, and returns the segment name ("" after adding a failure).
  struct WaitDir {
    std::string dir;
    std::string suffix;
    std::vector<std::string> also_allowed = {};
  };
  std::string switch_and_wait(const PostgresInstance& instance, const std::vector<WaitDir>& dirs,
                              std::chrono::milliseconds timeout = seconds(120)) {
    std::string error;
    std::string segment = switch_wal(instance, &error);
    EXPECT_FALSE(segment.empty()) << error;
    if (segment.empty()) {
      return "";
    }
    bool ok = true;
    for (const WaitDir& w : dirs) {
      std::string err = wait_for_settled_segment(w.dir, segment, w.suffix, timeout, w.also_allowed);
      EXPECT_TRUE(err.empty()) << "after pg_switch_wal completed " << segment << ": " << err;
      ok = ok && err.empty();
    }
    return ok ? segment : "";
  }

  // The open .partial holds exactly PostgreSQL's bytes up to what status details says is flushed.
  void expect_partial_matches(const DaemonInstance& d, const std::string& reference_dir,
                              const std::string& label) {
    std::string error;
    nlohmann::json s = server_details(d, "primary", &error);
    ASSERT_TRUE(s.is_object()) << error;
    auto flushed = wal::Lsn::parse(json_string(s, "WalFlushedLsn"));
    ASSERT_TRUE(flushed.has_value()) << s.dump();
    int64_t tli = json_int(s, "WalTimeline");
    ASSERT_GT(tli, 0) << s.dump();
    size_t compared = 0;
    std::string err =
        check_partial_prefix(daemon_wal_dir(d), reference_dir,
                             wal::TimelineId(static_cast<uint32_t>(tli)), *flushed, &compared);
    EXPECT_EQ(err, "") << label << ": " << s.dump();
    std::cout << "[   INFO   ] " << label << ": .partial compared up to " << flushed->to_string()
              << " (" << compared << " bytes)\n";
  }

  // Timeline 1 ended at the switch point in `history_path`: its complete segments end just
  // before the segment holding the switch point, timeline 2's begin with it, and when the switch
  // point lies inside a segment, timeline 1's .partial of it matches timeline 2's copy (the
  // reference file) up to there.
  void expect_timeline_junction(const std::string& dir, const WalDirCheck& check,
                                const std::string& history_path, const std::string& reference_dir) {
    auto entries = wal::parse_history(read_text(history_path));
    ASSERT_TRUE(entries.has_value()) << read_text(history_path);
    std::optional<wal::Lsn> end = wal::switch_point(*entries, wal::TimelineId(1));
    ASSERT_TRUE(end.has_value()) << read_text(history_path);
    wal::SegmentNo switch_segno = wal::segment_number(*end, wal::kDefaultSegmentSize);
    uint64_t offset = wal::segment_offset(*end, wal::kDefaultSegmentSize);
    std::string tl1 = wal::segment_name(wal::TimelineId(1), *end, wal::kDefaultSegmentSize);
    std::string tl2 = wal::segment_name(wal::TimelineId(2), *end, wal::kDefaultSegmentSize);
    std::cout << "[   INFO   ] timeline 1 ended at " << end->to_string() << " (offset " << offset
              << " in " << tl1 << ")\n";
    ASSERT_EQ(check.ranges.count(1), 1u) << check.summary();
    ASSERT_EQ(check.ranges.count(2), 1u) << check.summary();
    EXPECT_EQ(check.ranges.at(1).second + 1, switch_segno)
        << "timeline 1's complete segments do not end right before " << tl1 << "\n"
        << check.summary();
    EXPECT_EQ(check.ranges.at(2).first, switch_segno)
        << "timeline 2's segments do not start with " << tl2 << "\n"
        << check.summary();
    if (offset > 0) {
      std::string partial = read_text(dir + "/" + tl1 + ".partial");
      std::string ref = read_text(reference_dir + "/" + tl2);
      ASSERT_EQ(partial.size(), wal::kDefaultSegmentSize)
          << tl1 << ".partial missing or short; listing: " << join(list_dir(dir));
      ASSERT_GE(ref.size(), offset);
      EXPECT_TRUE(partial.compare(0, offset, ref, 0, offset) == 0)
          << tl1 << ".partial differs from " << tl2 << " before the switch point";
    }
  }

  // Prints what a check covered (for the record; failures print it anyway).
  static void report(const std::string& label, const WalDirCheck& check) {
    std::cout << "[   INFO   ] " << label << ": " << check.segments << " complete segments, "
              << check.compared << " compared byte for byte"
              << (check.names.empty() ? ""
                                      : ", " + check.names.front() + " .. " + check.names.back())
              << "\n";
  }

  // After `segment` is complete in the daemon's wal/: status details reports it flushed, and
  // the slot on the server has advanced past it (the receiver's flush feedback).
  void expect_flushed_past(const DaemonInstance& d, const PostgresInstance& instance,
                           const std::string& slot, const std::string& segment) {
    auto id = wal::parse_segment_name(segment, wal::kDefaultSegmentSize);
    ASSERT_TRUE(id.has_value()) << segment;
    wal::Lsn end = wal::segment_start(id->segno + 1, wal::kDefaultSegmentSize);
    std::string last;
    std::optional<nlohmann::json> s = wait_for_details(
        d, "primary",
        [&](const nlohmann::json& j) {
          auto flushed = wal::Lsn::parse(json_string(j, "WalFlushedLsn"));
          auto received = wal::Lsn::parse(json_string(j, "WalReceivedLsn"));
          return flushed && received && *flushed >= end && *received >= *flushed;
        },
        seconds(15), &last);
    EXPECT_TRUE(s.has_value()) << slot << ": status details does not report " << segment
                               << " flushed (>= " << end.to_string() << "): " << last;
    auto deadline = steady_clock::now() + seconds(40);
    std::string restart;
    while (true) {
      restart = slot_restart_lsn(instance, slot);
      auto lsn = wal::Lsn::parse(restart);
      if ((lsn && *lsn >= end) || steady_clock::now() >= deadline) {
        EXPECT_TRUE(lsn && *lsn >= end)
            << "slot " << slot << " restart_lsn " << restart << " has not advanced past " << segment
            << " (" << end.to_string() << ") 40 s after it was complete";
        return;
      }
      std::this_thread::sleep_for(milliseconds(500));
    }
  }

  // Writes WAL on the primary that the standby replays (so timeline 1 ends inside a segment),
  // promotes the standby, writes there and switches; *segment gets the timeline-2 segment.
  void promote_mid_segment(const std::string& table, std::string* segment) {
    ASSERT_EQ(sql_value(*pg(), "INSERT INTO " + table +
                                   " SELECT g, md5(g::text) FROM generate_series(1, 5000) g"),
              "");
    std::string primary_lsn = sql_value(*pg(), "SELECT pg_current_wal_lsn()");
    std::string replayed;
    auto deadline = steady_clock::now() + seconds(60);
    while ((replayed = sql_value(*second_, "SELECT pg_last_wal_replay_lsn() >= '" + primary_lsn +
                                               "'::pg_lsn")) != "t" &&
           steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(200));
    }
    ASSERT_EQ(replayed, "t") << "the standby did not replay up to " << primary_lsn;
    ASSERT_EQ(second_->promote(), "");
    ASSERT_EQ(sql_value(*second_, "INSERT INTO " + table +
                                      " SELECT g, md5(g::text) FROM generate_series(1, 20000) g"),
              "");
    std::string error;
    *segment = switch_wal(*second_, &error);
    ASSERT_FALSE(segment->empty()) << error;
    EXPECT_EQ(segment->substr(0, 8), "00000002");
  }

  std::vector<Managed> daemons_;
  std::vector<std::pair<PostgresInstance*, std::string>> slots_;
  std::unique_ptr<TempDir> second_dir_;
  std::unique_ptr<PostgresInstance> second_;  // a standby or another cluster
  std::unique_ptr<TempDir> extra_dir_;        // outlives the daemons (removed in TearDown)
};

// ---- 1. byte identity under load, every storage format at once ----

TEST_F(WalTest, SixDaemonsStoreByteIdenticalSegmentsUnderLoad) {
  struct Variant {
    std::string slot;
    std::string compression;
    compress::Algorithm algorithm;
    crypto::AesMode encryption;
  };
  const std::vector<Variant> variants = {
      {"repl_none", "none", compress::Algorithm::kNone, crypto::AesMode::kNone},
      {"repl_zstd", "zstd", compress::Algorithm::kZstd, crypto::AesMode::kNone},
      {"repl_lz4", "lz4", compress::Algorithm::kLz4, crypto::AesMode::kNone},
      {"repl_gzip", "gzip", compress::Algorithm::kGzip, crypto::AesMode::kNone},
      {"repl_bzip2", "bzip2", compress::Algorithm::kBzip2, crypto::AesMode::kNone},
      {"repl_zstd_aes", "zstd", compress::Algorithm::kZstd, crypto::AesMode::kAes256Gcm},
  };
  std::vector<DaemonInstance*> daemons;
  for (const Variant& v : variants) {
    DaemonInstance* d = start_daemon(v.slot, v.slot, [&](IniConfig& c) {
      c.set("pgmoneta", "compression", v.compression);
      if (v.encryption != crypto::AesMode::kNone) {
        c.set("pgmoneta", "encryption", "aes-256-gcm");
      }
    });
    ASSERT_NE(d, nullptr);
    daemons.push_back(d);
  }
  for (size_t i = 0; i < variants.size(); ++i) {
    nlohmann::json s = wait_streaming(*daemons[i]);
    ASSERT_TRUE(s.is_object()) << variants[i].slot;
  }

  CommandOutput init = pg()->run_tool("pgbench", {"-i", "-q", "-s", "8"}, seconds(300));
  ASSERT_EQ(init.exit_code, 0) << "pgbench -i: " << init.describe();
  Process run = pg()->spawn_tool("pgbench", {"-T", "30", "-c", "2", "-j", "2", "-n"},
                                 daemons[0]->dir() / "pgbench.log");
  ASSERT_GT(run.pid(), 0) << run.error();
  // Mid-run, the open .partial holds PostgreSQL's bytes up to the reported flush position.
  std::this_thread::sleep_for(seconds(15));
  for (size_t i = 0; i < variants.size(); ++i) {
    expect_partial_matches(*daemons[i], pg()->data_dir() + "/pg_wal", variants[i].slot);
  }
  std::optional<int> status = run.wait_for(seconds(150));
  ASSERT_TRUE(status.has_value()) << "pgbench -T 30 still runs after 165 s";
  ASSERT_EQ(*status, 0) << "pgbench: " << read_text(daemons[0]->dir() / "pgbench.log");

  std::vector<WaitDir> dirs;
  for (size_t i = 0; i < variants.size(); ++i) {
    dirs.push_back({daemon_wal_dir(*daemons[i]),
                    expected_suffix(variants[i].algorithm, variants[i].encryption)});
  }
  std::string last = switch_and_wait(*pg(), dirs, seconds(180));
  ASSERT_FALSE(last.empty());

  for (size_t i = 0; i < variants.size(); ++i) {
    const Variant& v = variants[i];
    std::optional<crypto::MasterKey> key;
    if (v.encryption != crypto::AesMode::kNone) {
      std::string error;
      key = load_master_key_at(daemons[i]->home() + "/.pgmoneta/master.key", &error);
      ASSERT_TRUE(key.has_value()) << error;
    }
    WalDirCheck check = check_wal_dir({.wal_dir = dirs[i].dir,
                                       .reference_dir = pg()->data_dir() + "/pg_wal",
                                       .suffix = dirs[i].suffix,
                                       .mode = v.encryption,
                                       .key = key ? &*key : nullptr});
    report(v.slot, check);
    EXPECT_TRUE(check.problems.empty()) << v.slot << ":\n" << check.summary();
    EXPECT_GE(check.compared, 5u) << v.slot << ":\n" << check.summary();
    expect_flushed_past(*daemons[i], *pg(), v.slot, last);
    expect_partial_matches(*daemons[i], pg()->data_dir() + "/pg_wal", v.slot);
    EXPECT_FALSE(check.names.empty() || check.names.back() != last)
        << v.slot << ": the newest complete segment is not " << last << "\n"
        << check.summary();

    std::string error;
    nlohmann::json s = server_details(*daemons[i], "primary", &error);
    ASSERT_TRUE(s.is_object()) << error;
    EXPECT_TRUE(json_bool(s, "WalStreaming")) << v.slot << ": " << s.dump();
    EXPECT_TRUE(json_bool(s, "Valid")) << v.slot << ": " << s.dump();
    EXPECT_EQ(json_int(s, "WalTimeline"), 1) << v.slot << ": " << s.dump();
    EXPECT_EQ(json_string(s, "WalLastError"), "") << v.slot << ": " << s.dump();
    EXPECT_GE(json_int(s, "WalLagBytes"), 0) << v.slot << ": " << s.dump();
    auto received = wal::Lsn::parse(json_string(s, "WalReceivedLsn"));
    auto flushed = wal::Lsn::parse(json_string(s, "WalFlushedLsn"));
    auto server_end = wal::Lsn::parse(json_string(s, "WalServerLsn"));
    EXPECT_TRUE(received && flushed && server_end) << v.slot << ": " << s.dump();
    if (received && flushed && server_end) {
      EXPECT_LE(*flushed, *received) << v.slot << ": " << s.dump();
      EXPECT_LE(*received, *server_end) << v.slot << ": " << s.dump();
      if (*server_end >= *flushed) {
        EXPECT_EQ(json_int(s, "WalLagBytes"), static_cast<int64_t>(*server_end - *flushed))
            << v.slot << ": WalLagBytes is not WalServerLsn - WalFlushedLsn: " << s.dump();
      }
      auto seg = wal::parse_segment_name(last, wal::kDefaultSegmentSize);
      ASSERT_TRUE(seg.has_value());
      // The switched segment is complete on disk, so at least that much was received.
      EXPECT_GE(*received, wal::segment_start(seg->segno + 1, wal::kDefaultSegmentSize))
          << v.slot << ": " << s.dump();
    }
    std::string current = json_string(s, "WalCurrentFile");
    if (!current.empty()) {
      EXPECT_EQ(wal::classify_wal_file(current).kind, wal::WalFileKind::kPartial)
          << v.slot << ": WalCurrentFile " << current;
      EXPECT_TRUE(path_exists(dirs[i].dir + "/" + current))
          << v.slot << ": WalCurrentFile " << current << " not in " << join(list_dir(dirs[i].dir));
    }
  }
}

// ---- 2. faults while pgbench runs ----

TEST_F(WalTest, FaultsLeaveNoGapAndNoDuplicate) {
  // bzip2 is slow, so a SIGKILL can land while a completed segment is being compressed.
  DaemonInstance* d = start_daemon("faults", "repl_faults",
                                   [](IniConfig& c) { c.set("pgmoneta", "compression", "bzip2"); });
  ASSERT_NE(d, nullptr);
  // Connection losses are warnings; the SIGKILLed child is an error of the daemon's.
  expect_log_errors(d, {"was killed by signal 9"});
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  const std::string dir = daemon_wal_dir(*d);
  const std::string suffix = expected_suffix(compress::Algorithm::kBzip2, crypto::AesMode::kNone);

  CommandOutput init = pg()->run_tool("pgbench", {"-i", "-q", "-s", "4"}, seconds(300));
  ASSERT_EQ(init.exit_code, 0) << "pgbench -i: " << init.describe();
  Process load = pg()->spawn_tool("pgbench", {"-T", "600", "-c", "2", "-j", "2", "-n"},
                                  d->dir() / "pgbench1.log");
  ASSERT_GT(load.pid(), 0) << load.error();

  // (a) SIGKILL the receiver while it compresses a completed segment (when we catch one within
  // 60 s), then once more right after it streams again (in the middle of a segment).
  std::vector<std::string> caught;
  auto deadline = steady_clock::now() + seconds(60);
  while ((caught = unfinished_files(dir, suffix)).empty() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  int64_t pid_a = json_int(server_details(*d, "primary"), "WalReceiverPid", 0);
  ASSERT_GT(pid_a, 0);
  ASSERT_EQ(::kill(static_cast<pid_t>(pid_a), SIGKILL), 0) << "kill " << pid_a;
  std::cout << "[   INFO   ] SIGKILL " << pid_a
            << (caught.empty() ? " (no compression caught in progress)"
                               : " while compressing: " + join(caught))
            << "\n";
  s = wait_streaming(*d, "primary", seconds(60), [&](const nlohmann::json& j) {
    return json_int(j, "WalReceiverPid") != pid_a && !json_string(j, "WalCurrentFile").empty();
  });
  ASSERT_TRUE(s.is_object()) << "no new receiver after SIGKILL of " << pid_a;
  int64_t pid_a2 = json_int(s, "WalReceiverPid");
  std::this_thread::sleep_for(milliseconds(500));
  ASSERT_EQ(::kill(static_cast<pid_t>(pid_a2), SIGKILL), 0) << "kill " << pid_a2;
  s = wait_streaming(*d, "primary", seconds(60), [&](const nlohmann::json& j) {
    return json_int(j, "WalReceiverPid") != pid_a2;
  });
  ASSERT_TRUE(s.is_object()) << "no new receiver after SIGKILL of " << pid_a2;
  EXPECT_TRUE(load.running()) << read_text(d->dir() / "pgbench1.log");

  // (b) stop PostgreSQL (fast) while streaming - pgbench dies with it -, check the status
  // reports the failure, start it again.
  std::this_thread::sleep_for(seconds(2));
  pg()->stop();
  load.kill_group(SIGKILL);
  load.wait_for(seconds(10));
  std::string last_status;
  std::optional<nlohmann::json> down = wait_for_details(
      *d, "primary",
      [](const nlohmann::json& j) {
        return !json_bool(j, "WalStreaming", true) && !json_string(j, "WalLastError").empty();
      },
      seconds(20), &last_status);
  EXPECT_TRUE(down.has_value()) << "status does not report the lost server: " << last_status;
  ASSERT_EQ(pg()->restart(), "");
  load = pg()->spawn_tool("pgbench", {"-T", "600", "-c", "2", "-j", "2", "-n"},
                          d->dir() / "pgbench2.log");
  ASSERT_GT(load.pid(), 0) << load.error();
  std::vector<std::string> senders;
  deadline = steady_clock::now() + seconds(90);
  while ((senders = walsender_pids(*pg(), "repl_faults")).empty() &&
         steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(200));
  }
  ASSERT_FALSE(senders.empty()) << "the receiver did not reconnect after the server restart";
  s = wait_streaming(*d, "primary", seconds(30), [](const nlohmann::json& j) {
    return json_string(j, "WalLastError").empty();
  });
  ASSERT_TRUE(s.is_object()) << "WalLastError not cleared once streaming works again";
  std::this_thread::sleep_for(seconds(3));

  // (c) terminate the walsender.
  std::string old_sender = senders[0];
  std::string terminated = sql_value(*pg(),
                                     "SELECT count(pg_terminate_backend(pid)) FROM "
                                     "pg_stat_replication WHERE application_name = 'repl_faults'");
  EXPECT_EQ(terminated, "1");
  deadline = steady_clock::now() + seconds(90);
  while (true) {
    senders = walsender_pids(*pg(), "repl_faults");
    if (!senders.empty() && senders[0] != old_sender) {
      break;
    }
    ASSERT_LT(steady_clock::now(), deadline) << "no new walsender after terminating " << old_sender;
    std::this_thread::sleep_for(milliseconds(200));
  }
  s = wait_streaming(*d, "primary", seconds(30));
  ASSERT_TRUE(s.is_object());
  std::this_thread::sleep_for(seconds(3));

  // (d) stop the daemon (SIGTERM) while WAL keeps coming, start it again.
  std::optional<int> status = d->stop();
  EXPECT_EQ(status, std::optional<int>(0)) << "daemon did not exit 0 on SIGTERM";
  std::this_thread::sleep_for(seconds(3));
  ASSERT_EQ(d->start(), "");
  s = wait_streaming(*d, "primary", seconds(30));
  ASSERT_TRUE(s.is_object());
  std::this_thread::sleep_for(seconds(3));
  EXPECT_TRUE(load.running()) << read_text(d->dir() / "pgbench2.log");
  load.kill_group(SIGKILL);
  load.wait_for(seconds(10));

  std::string last = switch_and_wait(*pg(), {{dir, suffix}});
  ASSERT_FALSE(last.empty());
  WalDirCheck check = check_wal_dir(
      {.wal_dir = dir, .reference_dir = pg()->data_dir() + "/pg_wal", .suffix = suffix});
  report("faults", check);
  EXPECT_TRUE(check.problems.empty()) << check.summary();
  EXPECT_GE(check.compared, 3u) << check.summary();
  EXPECT_FALSE(check.names.empty() || check.names.back() != last) << check.summary();
  expect_flushed_past(*d, *pg(), "repl_faults", last);
}

// ---- 3. synchronous standby ----

TEST_F(WalTest, SynchronousCommitWaitsForTheReceiver) {
  const std::string slot = "repl_sync";
  DaemonInstance* d = start_daemon("sync", slot, [](IniConfig& c) {
    c.set("pgmoneta", "compression", "zstd");
    c.set("primary", "wal_sync", "on");
  });
  ASSERT_NE(d, nullptr);
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  int64_t pid = json_int(s, "WalReceiverPid");
  ASSERT_EQ(sql_value(*pg(), "CREATE TABLE IF NOT EXISTS wal_it_sync (i int)"), "");

  struct Cleanup {
    PostgresInstance* pg;
    pid_t pid;
    ~Cleanup() {
      ::kill(pid, SIGCONT);
      pg->psql("ALTER SYSTEM RESET synchronous_standby_names");
      pg->psql("SELECT pg_reload_conf()");
    }
  } cleanup{pg(), static_cast<pid_t>(pid)};
  ASSERT_EQ(sql_value(*pg(), "ALTER SYSTEM SET synchronous_standby_names = '" + slot + "'"), "");
  ASSERT_EQ(sql_value(*pg(), "SELECT pg_reload_conf()"), "t");
  std::string state;
  auto deadline = steady_clock::now() + seconds(30);
  while ((state = sql_value(*pg(),
                            "SELECT sync_state FROM pg_stat_replication "
                            "WHERE application_name = '" +
                                slot + "'")) != "sync" &&
         steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(200));
  }
  ASSERT_EQ(state, "sync") << "the receiver never became the synchronous standby";

  const std::string insert = "SET synchronous_commit = on; INSERT INTO wal_it_sync VALUES (1)";
  CommandOutput first = pg()->psql(insert);
  EXPECT_EQ(first.exit_code, 0) << "a synchronous commit did not return while the receiver runs: "
                                << first.describe();

  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGSTOP), 0);
  Process commit = pg()->spawn_tool("psql", {"-XAtq", "-v", "ON_ERROR_STOP=1", "-c", insert},
                                    d->dir() / "psql.log");
  ASSERT_GT(commit.pid(), 0) << commit.error();
  std::this_thread::sleep_for(seconds(3));
  EXPECT_TRUE(commit.running()) << "the commit returned while the synchronous standby was stopped: "
                                << read_text(d->dir() / "psql.log");
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGCONT), 0);
  std::optional<int> status = commit.wait_for(seconds(60));
  ASSERT_TRUE(status.has_value()) << "the commit still waits 60 s after SIGCONT";
  EXPECT_EQ(*status, 0) << read_text(d->dir() / "psql.log");
  EXPECT_EQ(sql_value(*pg(), "SELECT count(*) FROM wal_it_sync"), "2");
  // The same receiver still streams (a stopped process is no reason to replace it).
  s = wait_streaming(*d);
  EXPECT_EQ(json_int(s, "WalReceiverPid"), pid) << s.dump();

  // A commit waiting on a receiver that then dies completes once the watchdog's new receiver
  // has the WAL durable.
  expect_log_errors(d, {"was killed by signal 9"});
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGSTOP), 0);
  Process commit2 = pg()->spawn_tool("psql", {"-XAtq", "-v", "ON_ERROR_STOP=1", "-c", insert},
                                     d->dir() / "psql2.log");
  ASSERT_GT(commit2.pid(), 0) << commit2.error();
  std::this_thread::sleep_for(seconds(1));
  EXPECT_TRUE(commit2.running()) << read_text(d->dir() / "psql2.log");
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
  status = commit2.wait_for(seconds(60));
  ASSERT_TRUE(status.has_value()) << "the commit still waits 60 s after its receiver was killed";
  EXPECT_EQ(*status, 0) << read_text(d->dir() / "psql2.log");
  s = wait_streaming(*d, "primary", seconds(30),
                     [&](const nlohmann::json& j) { return json_int(j, "WalReceiverPid") != pid; });
  EXPECT_TRUE(s.is_object());
  EXPECT_EQ(sql_value(*pg(), "SELECT count(*) FROM wal_it_sync"), "3");
}

// ---- 4. a standby is promoted: the receiver follows timeline 2 ----

TEST_F(WalTest, FollowsTimelineSwitchOfPromotedStandby) {
  second_dir_ = std::make_unique<TempDir>("pgm-standby");
  second_ = std::make_unique<PostgresInstance>(second_dir_->path());
  ASSERT_EQ(second_->start_standby(*pg()), "");
  DaemonInstance* d = start_daemon(
      "timeline", "repl_timeline", [](IniConfig& c) { c.set("pgmoneta", "compression", "lz4"); },
      second_.get());
  ASSERT_NE(d, nullptr);
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(json_int(s, "WalTimeline"), 1) << s.dump();

  std::string dir = daemon_wal_dir(*d);
  std::string suffix = expected_suffix(compress::Algorithm::kLz4, crypto::AesMode::kNone);
  ASSERT_EQ(sql_value(*pg(),
                      "CREATE TABLE wal_it_tl AS SELECT g AS i, md5(g::text) AS m "
                      "FROM generate_series(1, 50000) g"),
            "");
  std::string error;
  std::string seg1 = switch_wal(*pg(), &error);
  ASSERT_FALSE(seg1.empty()) << error;
  EXPECT_EQ(seg1.substr(0, 8), "00000001");
  std::string err = wait_for_settled_segment(dir, seg1, suffix, seconds(120));
  ASSERT_EQ(err, "") << "timeline 1 segment from the standby";

  // More WAL after the switch, replayed by the standby, so that timeline 1 ends in the middle of
  // a segment.
  std::string seg2;
  ASSERT_NO_FATAL_FAILURE(promote_mid_segment("wal_it_tl", &seg2));
  err = wait_for_settled_segment(dir, seg2, suffix, seconds(120));
  ASSERT_EQ(err, "") << "timeline 2 segment after promotion";

  std::string history = dir + "/00000002.history";
  ASSERT_TRUE(path_exists(history)) << "listing: " << join(list_dir(dir));
  EXPECT_EQ(read_text(history), read_text(second_->data_dir() + "/pg_wal/00000002.history"));

  WalDirCheck check = check_wal_dir(
      {.wal_dir = dir, .reference_dir = second_->data_dir() + "/pg_wal", .suffix = suffix});
  report("timeline", check);
  EXPECT_TRUE(check.problems.empty()) << check.summary();
  EXPECT_GE(check.compared, 2u) << check.summary();
  EXPECT_NE(std::find(check.names.begin(), check.names.end(), seg1), check.names.end())
      << check.summary();
  EXPECT_NE(std::find(check.names.begin(), check.names.end(), seg2), check.names.end())
      << check.summary();

  s = wait_streaming(*d, "primary", seconds(30),
                     [](const nlohmann::json& j) { return json_int(j, "WalTimeline") == 2; });
  EXPECT_TRUE(s.is_object()) << "status does not report timeline 2";

  expect_timeline_junction(dir, check, history, second_->data_dir() + "/pg_wal");
}

// A server section that points at a streaming standby backs up from it, as pg_basebackup
// and pgmoneta allow (issue 18): BASE_BACKUP runs on the standby, the WAL comes from it, and
// the backup restored with `current` holds what the primary committed after the backup.
TEST_F(WalTest, BackupFromAStandbyRestoresWithItsWal) {
  // PostgreSQL refuses a backup on a standby that replayed WAL written with
  // full_page_writes = off (the suite's setting) since its last restartpoint: on for this test,
  // a checkpoint before the standby is made, and a restartpoint on it below.
  ASSERT_EQ(sql_value(*pg(), "ALTER SYSTEM SET full_page_writes = on"), "");
  ASSERT_EQ(sql_value(*pg(), "SELECT pg_reload_conf()"), "t");
  pgm::ScopeExit fpw_off([this] {
    sql_value(*pg(), "ALTER SYSTEM RESET full_page_writes");
    sql_value(*pg(), "SELECT pg_reload_conf()");
  });
  ASSERT_EQ(sql_value(*pg(), "CHECKPOINT"), "");
  second_dir_ = std::make_unique<TempDir>("pgm-standby");
  second_ = std::make_unique<PostgresInstance>(second_dir_->path());
  ASSERT_EQ(second_->start_standby(*pg()), "");
  DaemonInstance* d = start_daemon(
      "standby-backup", "repl_standby_backup",
      [](IniConfig& c) { c.set("pgmoneta", "compression", "zstd"); }, second_.get());
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(wait_streaming(*d).is_object());
  ASSERT_EQ(sql_value(*pg(),
                      "CREATE TABLE standby_bk AS SELECT g AS i FROM "
                      "generate_series(1, 10000) g"),
            "");
  std::string primary_lsn = sql_value(*pg(), "SELECT pg_current_wal_lsn()");
  auto deadline = steady_clock::now() + seconds(60);
  while (sql_value(*second_, "SELECT pg_last_wal_replay_lsn() >= '" + primary_lsn + "'::pg_lsn") !=
             "t" &&
         steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(200));
  }
  ASSERT_EQ(sql_value(*second_, "CHECKPOINT"), "");  // a restartpoint after full_page_writes

  CliResult backup = d->cli({"backup", "primary"}, "raw");
  ASSERT_EQ(backup.exit_code(), 0) << backup.describe();
  ASSERT_TRUE(backup.json.has_value()) << backup.describe();
  const std::string label = (*backup.json)["Response"].value("Backup", "");
  ASSERT_FALSE(label.empty()) << backup.describe();
  CliResult details = d->cli({"status", "details"}, "json");
  ASSERT_TRUE(details.json.has_value()) << details.describe();
  EXPECT_EQ(find_server(*details.json, "primary").value("Primary", true), false)
      << "the daemon does not see a standby";

  // After the backup: more rows on the primary, and a WAL switch so that their segment is
  // complete on the standby and here.
  ASSERT_EQ(
      sql_value(*pg(), "INSERT INTO standby_bk SELECT g FROM generate_series(10001, 15000) g"), "");
  std::string error;
  std::string segment = switch_wal(*pg(), &error);
  ASSERT_FALSE(segment.empty()) << error;
  ASSERT_EQ(wait_for_settled_segment(
                daemon_wal_dir(*d), segment,
                expected_suffix(compress::Algorithm::kZstd, crypto::AesMode::kNone), seconds(120)),
            "");

  TempDir target("pgm-standby-restore");
  chown_to_test_user(target.path());
  CliResult restore = d->cli({"restore", "primary", label, "current", target.path()}, "raw");
  ASSERT_EQ(restore.exit_code(), 0) << restore.describe();
  TempDir copy_root("pgm-standby-copy");
  chown_to_test_user(copy_root.path());
  PostgresInstance copy(copy_root.path());
  ASSERT_EQ(copy.start_restored(target / ("primary-" + label)), "") << tail(copy.log());
  EXPECT_EQ(sql_value(copy, "SELECT count(*) FROM standby_bk"), "15000");
}

TEST_F(WalTest, FollowsTimelineSwitchThatHappenedWhileStopped) {
  second_dir_ = std::make_unique<TempDir>("pgm-standby");
  second_ = std::make_unique<PostgresInstance>(second_dir_->path());
  ASSERT_EQ(second_->start_standby(*pg()), "");
  DaemonInstance* d = start_daemon(
      "timeline-stopped", "repl_timeline2",
      [](IniConfig& c) { c.set("pgmoneta", "compression", "gzip"); }, second_.get());
  ASSERT_NE(d, nullptr);
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  std::string dir = daemon_wal_dir(*d);
  std::string suffix = expected_suffix(compress::Algorithm::kGzip, crypto::AesMode::kNone);
  std::string error;
  std::string seg1 = switch_wal(*pg(), &error);
  ASSERT_FALSE(seg1.empty()) << error;
  ASSERT_EQ(wait_for_settled_segment(dir, seg1, suffix, seconds(120)), "");

  // While the daemon is stopped: more timeline-1 WAL (two segments and a bit), then promotion
  // and timeline-2 WAL.
  std::optional<int> status = d->stop();
  ASSERT_EQ(status, std::optional<int>(0)) << "daemon did not exit 0 on SIGTERM";
  ASSERT_EQ(sql_value(*pg(), "CREATE TABLE IF NOT EXISTS wal_it_tl2 (i int, m text)"), "");
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(sql_value(*pg(),
                        "INSERT INTO wal_it_tl2 SELECT g, md5(g::text) "
                        "FROM generate_series(1, 20000) g"),
              "");
    ASSERT_FALSE(switch_wal(*pg(), &error).empty()) << error;
  }
  std::string seg2;
  ASSERT_NO_FATAL_FAILURE(promote_mid_segment("wal_it_tl2", &seg2));

  ASSERT_EQ(d->start(), "");
  std::string err = wait_for_settled_segment(dir, seg2, suffix, seconds(120));
  ASSERT_EQ(err, "") << "timeline 2 segment after a restart across the promotion";
  std::string history = dir + "/00000002.history";
  ASSERT_TRUE(path_exists(history)) << "listing: " << join(list_dir(dir));
  EXPECT_EQ(read_text(history), read_text(second_->data_dir() + "/pg_wal/00000002.history"));
  WalDirCheck check = check_wal_dir(
      {.wal_dir = dir, .reference_dir = second_->data_dir() + "/pg_wal", .suffix = suffix});
  report("timeline-stopped", check);
  EXPECT_TRUE(check.problems.empty()) << check.summary();
  EXPECT_GE(check.compared, 4u) << check.summary();
  expect_timeline_junction(dir, check, history, second_->data_dir() + "/pg_wal");
}

// ---- 5. slot problems ----

TEST_F(WalTest, MissingOrLogicalSlotMakesServerInvalid) {
  const std::string missing = "wal_it_missing";
  const std::string logical = "wal_it_logical";
  ASSERT_EQ(sql_value(*pg(), "SELECT slot_name FROM pg_create_logical_replication_slot('" +
                                 logical + "', 'test_decoding')"),
            logical);
  slots_.emplace_back(pg(), logical);
  DaemonInstance* d = start_daemon("slots", missing, [&](IniConfig& c) {
    c.set("primary", "create_slot", "no");
    c.set("logical", "host", pg()->socket_dir());
    c.set("logical", "port", std::to_string(pg()->port()));
    c.set("logical", "user", PostgresInstance::kReplUser);
    c.set("logical", "wal_slot", logical);
    c.set("logical", "create_slot", "yes");
  });
  ASSERT_NE(d, nullptr);
  expect_log_errors(d, {missing, logical, "physical"});

  std::string last;
  std::optional<nlohmann::json> s = wait_for_details(
      *d, "primary",
      [&](const nlohmann::json& j) {
        return j.contains("Valid") && !json_bool(j, "Valid", true) &&
               json_string(j, "WalLastError").find(missing) != std::string::npos;
      },
      seconds(30), &last);
  EXPECT_TRUE(s.has_value()) << "missing slot not reported; last status: " << last;
  if (s) {
    EXPECT_FALSE(json_bool(*s, "WalStreaming", true)) << s->dump();
  }
  s = wait_for_details(
      *d, "logical",
      [&](const nlohmann::json& j) {
        return j.contains("Valid") && !json_bool(j, "Valid", true) &&
               json_string(j, "WalLastError").find("physical") != std::string::npos;
      },
      seconds(30), &last);
  EXPECT_TRUE(s.has_value()) << "logical slot not reported as not physical; last status: " << last;
  if (s) {
    EXPECT_FALSE(json_bool(*s, "WalStreaming", true)) << s->dump();
  }
  EXPECT_EQ(sql_value(*pg(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" +
                                 missing + "'"),
            "0")
      << "create_slot = no, yet the slot was created";
  EXPECT_EQ(sql_value(*pg(), "SELECT slot_type FROM pg_replication_slots WHERE slot_name = '" +
                                 logical + "'"),
            "logical")
      << "the logical slot was touched";
  EXPECT_TRUE(walsender_pids(*pg(), missing).empty());
  EXPECT_TRUE(walsender_pids(*pg(), logical).empty());

  // Creating the slot is enough: the receiver retries and streams, the server becomes valid.
  ASSERT_EQ(sql_value(*pg(), "SELECT slot_name FROM pg_create_physical_replication_slot('" +
                                 missing + "', true)"),
            missing);
  s = wait_for_details(
      *d, "primary",
      [](const nlohmann::json& j) {
        return streaming(j) && json_bool(j, "Valid") && json_string(j, "WalLastError").empty();
      },
      seconds(75), &last);
  EXPECT_TRUE(s.has_value()) << "not streaming (and valid) after the slot was created: " << last;
  EXPECT_FALSE(walsender_pids(*pg(), missing).empty());
}

// ---- 6. mode offline / online ----

TEST_F(WalTest, ModeOfflineStopsAndOnlineRestartsTheReceiver) {
  const std::string slot = "repl_mode";
  DaemonInstance* d =
      start_daemon("mode", slot, [](IniConfig& c) { c.set("pgmoneta", "compression", "gzip"); });
  ASSERT_NE(d, nullptr);
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  int64_t pid = json_int(s, "WalReceiverPid");
  EXPECT_NE(process_cmdline(pid).find("wal/primary"), std::string::npos)
      << "process title of " << pid << ": '" << process_cmdline(pid) << "'";
  EXPECT_FALSE(walsender_pids(*pg(), slot).empty());

  CliResult off = d->cli({"mode", "primary", "offline"});
  ASSERT_EQ(off.exit_code(), 0) << off.describe();
  std::string last;
  std::optional<nlohmann::json> o = wait_for_details(
      *d, "primary",
      [](const nlohmann::json& j) {
        return j.contains("WalStreaming") && !json_bool(j, "WalStreaming", true) &&
               json_int(j, "WalReceiverPid") == 0;
      },
      seconds(15), &last);
  EXPECT_TRUE(o.has_value()) << "still streaming after mode offline: " << last;
  auto deadline = steady_clock::now() + seconds(15);
  while (!walsender_pids(*pg(), slot).empty() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_TRUE(walsender_pids(*pg(), slot).empty()) << "walsender still connected while offline";
  deadline = steady_clock::now() + seconds(15);
  while (::kill(static_cast<pid_t>(pid), 0) == 0 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_NE(::kill(static_cast<pid_t>(pid), 0), 0) << "receiver " << pid << " survives offline";

  // WAL written while offline must arrive afterwards, without a gap (the slot kept it).
  std::string error;
  ASSERT_FALSE(switch_wal(*pg(), &error).empty()) << error;
  ASSERT_FALSE(switch_wal(*pg(), &error).empty()) << error;

  CliResult on = d->cli({"mode", "primary", "online"});
  ASSERT_EQ(on.exit_code(), 0) << on.describe();
  s = wait_streaming(*d, "primary", seconds(30));
  ASSERT_TRUE(s.is_object()) << "not streaming again after mode online";
  EXPECT_NE(json_int(s, "WalReceiverPid"), pid);
  EXPECT_FALSE(walsender_pids(*pg(), slot).empty());

  std::string dir = daemon_wal_dir(*d);
  std::string suffix = expected_suffix(compress::Algorithm::kGzip, crypto::AesMode::kNone);
  std::string last_segment = switch_and_wait(*pg(), {{dir, suffix}});
  ASSERT_FALSE(last_segment.empty());
  WalDirCheck check = check_wal_dir(
      {.wal_dir = dir, .reference_dir = pg()->data_dir() + "/pg_wal", .suffix = suffix});
  report("mode", check);
  EXPECT_TRUE(check.problems.empty()) << check.summary();
  EXPECT_GE(check.compared, 3u) << check.summary();
}

// ---- 7. wal_shipping ----

TEST_F(WalTest, WalShippingHoldsTheSameSegments) {
  extra_dir_ = std::make_unique<TempDir>("pgm-ship");
  const std::string ship = extra_dir_->path();
  DaemonInstance* d = start_daemon("shipping", "repl_ship", [&](IniConfig& c) {
    c.set("pgmoneta", "compression", "zstd");
    c.set("pgmoneta", "encryption", "aes-256-gcm");
    c.set("primary", "wal_shipping", ship);
  });
  ASSERT_NE(d, nullptr);
  expect_log_errors(d, {"was killed by signal 9"});
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());

  ASSERT_EQ(sql_value(*pg(),
                      "CREATE TABLE IF NOT EXISTS wal_it_ship (i int, m text); "
                      "INSERT INTO wal_it_ship SELECT g, md5(g::text) "
                      "FROM generate_series(1, 100000) g"),
            "");
  // Under load, SIGKILL the receiver a few times: the shipping copy may then lag behind the
  // main one, and must be repaired, not left with a stale .partial or a gap.
  CommandOutput init = pg()->run_tool("pgbench", {"-i", "-q", "-s", "2"}, seconds(300));
  ASSERT_EQ(init.exit_code, 0) << "pgbench -i: " << init.describe();
  Process load = pg()->spawn_tool("pgbench", {"-T", "600", "-c", "2", "-j", "2", "-n"},
                                  d->dir() / "pgbench.log");
  ASSERT_GT(load.pid(), 0) << load.error();
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(milliseconds(1500 + 700 * round));
    int64_t pid = json_int(server_details(*d, "primary"), "WalReceiverPid", 0);
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
    s = wait_streaming(*d, "primary", seconds(60), [&](const nlohmann::json& j) {
      return json_int(j, "WalReceiverPid") != pid;
    });
    ASSERT_TRUE(s.is_object()) << "no new receiver after SIGKILL of " << pid;
  }
  std::this_thread::sleep_for(seconds(2));
  EXPECT_TRUE(load.running()) << read_text(d->dir() / "pgbench.log");
  load.kill_group(SIGKILL);
  load.wait_for(seconds(10));
  std::string error;
  ASSERT_FALSE(switch_wal(*pg(), &error).empty()) << error;
  std::string dir = daemon_wal_dir(*d);
  std::string ship_dir = ship + "/primary/wal";
  std::string suffix = expected_suffix(compress::Algorithm::kZstd, crypto::AesMode::kAes256Gcm);
  std::string last = switch_and_wait(*pg(), {{dir, suffix}, {ship_dir, suffix}});
  ASSERT_FALSE(last.empty());

  std::optional<crypto::MasterKey> key =
      load_master_key_at(d->home() + "/.pgmoneta/master.key", &error);
  ASSERT_TRUE(key.has_value()) << error;
  WalDirCheck main_check = check_wal_dir({.wal_dir = dir,
                                          .reference_dir = pg()->data_dir() + "/pg_wal",
                                          .suffix = suffix,
                                          .mode = crypto::AesMode::kAes256Gcm,
                                          .key = &*key});
  WalDirCheck ship_check = check_wal_dir({.wal_dir = ship_dir,
                                          .reference_dir = pg()->data_dir() + "/pg_wal",
                                          .suffix = suffix,
                                          .mode = crypto::AesMode::kAes256Gcm,
                                          .key = &*key});
  report("shipping wal/", main_check);
  report("shipping copy", ship_check);
  EXPECT_TRUE(main_check.problems.empty()) << "wal/:\n" << main_check.summary();
  EXPECT_TRUE(ship_check.problems.empty()) << "shipping:\n" << ship_check.summary();
  EXPECT_GE(ship_check.compared, 2u) << ship_check.summary();
  EXPECT_EQ(main_check.names, ship_check.names) << "wal/:\n"
                                                << main_check.summary() << "shipping:\n"
                                                << ship_check.summary();
  // Decoded, the shipped copy equals the stored one (the reference comparison implies it; this
  // also holds when pg_wal lost a file).
  for (const std::string& name : ship_check.names) {
    wal::WalFileInfo info = wal::classify_wal_file(name + suffix);
    std::string e1;
    std::string e2;
    auto a = decode_stored_file(path_join(dir, name + suffix), info, crypto::AesMode::kAes256Gcm,
                                &*key, &e1);
    auto b = decode_stored_file(path_join(ship_dir, name + suffix), info,
                                crypto::AesMode::kAes256Gcm, &*key, &e2);
    ASSERT_TRUE(a && b) << e1 << e2;
    EXPECT_TRUE(*a == *b) << name << " differs between wal/ and the shipping dir";
  }
  expect_flushed_past(*d, *pg(), "repl_ship", last);
}

// ---- 7b. crash states ----

// A crash between completing a segment in wal/ and in the shipping dir leaves: wal/ with the
// complete segment still plain (its compression had not started), the shipping dir with a
// .partial of it. Crafted here from a clean state (stop, then rewrite the two files the way the
// crash leaves them), since the window is a few milliseconds wide.
TEST_F(WalTest, WalShippingRepairsACrashBetweenTheTwoCopies) {
  extra_dir_ = std::make_unique<TempDir>("pgm-ship");
  const std::string ship = extra_dir_->path();
  DaemonInstance* d = start_daemon("shipping-repair", "repl_ship_repair", [&](IniConfig& c) {
    c.set("pgmoneta", "compression", "bzip2");  // slow: a restart finds it not yet compressed
    c.set("primary", "wal_shipping", ship);
  });
  ASSERT_NE(d, nullptr);
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  const std::string dir = daemon_wal_dir(*d);
  const std::string ship_dir = ship + "/primary/wal";
  const std::string bz2 = expected_suffix(compress::Algorithm::kBzip2, crypto::AesMode::kNone);
  ASSERT_EQ(sql_value(*pg(),
                      "CREATE TABLE IF NOT EXISTS wal_it_ship (i int, m text); "
                      "INSERT INTO wal_it_ship SELECT g, md5(g::text) "
                      "FROM generate_series(1, 50000) g"),
            "");
  std::string y = switch_and_wait(*pg(), {{dir, bz2}, {ship_dir, bz2}});
  ASSERT_FALSE(y.empty());
  std::optional<int> status = d->stop();
  ASSERT_EQ(status, std::optional<int>(0));

  wal::WalFileInfo info = wal::classify_wal_file(y + bz2);
  std::string error;
  std::optional<std::string> plain =
      decode_stored_file(dir + "/" + y + bz2, info, crypto::AesMode::kNone, nullptr, &error);
  ASSERT_TRUE(plain.has_value()) << error;
  ASSERT_EQ(::unlink((dir + "/" + y + bz2).c_str()), 0);
  d->dir().write_file("base/primary/wal/" + y, *plain);
  ASSERT_EQ(::unlink((ship_dir + "/" + y + bz2).c_str()), 0);
  for (const std::string& name : list_dir(ship_dir)) {
    if (wal::classify_wal_file(name).kind == wal::WalFileKind::kPartial) {
      ASSERT_EQ(::unlink(path_join(ship_dir, name).c_str()), 0);
    }
  }
  extra_dir_->write_file("primary/wal/" + y + ".partial", *plain);
  std::cout << "[   INFO   ] crafted: wal/" << y << " (plain), shipping " << y << ".partial\n";

  ASSERT_EQ(d->start(), "");
  s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  std::string last = switch_and_wait(*pg(), {{dir, bz2}, {ship_dir, bz2}}, seconds(60));
  EXPECT_FALSE(last.empty());
  for (const auto& [label, path] : {std::pair<std::string, std::string>{"wal/", dir},
                                    std::pair<std::string, std::string>{"shipping", ship_dir}}) {
    WalDirCheck check = check_wal_dir(
        {.wal_dir = path, .reference_dir = pg()->data_dir() + "/pg_wal", .suffix = bz2});
    report("shipping-repair " + label, check);
    EXPECT_TRUE(check.problems.empty()) << label << ":\n" << check.summary();
    EXPECT_NE(std::find(check.names.begin(), check.names.end(), y), check.names.end())
        << label << ":\n"
        << check.summary();
  }
}

// What a crash leaves in wal/ when the next start uses another compression: a plain segment
// with the temp file of its interrupted compression ("<out>.tmp.<pid>"), and a plain segment
// whose compressed output was already renamed into place (crash before the unlink). Crafted
// from a clean state. Every leftover must end up stored exactly once, no temp file remaining.
TEST_F(WalTest, CrashLeftoversAreFinishedOnceAfterACompressionChange) {
  DaemonInstance* d = start_daemon("leftovers", "repl_leftovers",
                                   [](IniConfig& c) { c.set("pgmoneta", "compression", "zstd"); });
  ASSERT_NE(d, nullptr);
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  const std::string dir = daemon_wal_dir(*d);
  const std::string zstd = expected_suffix(compress::Algorithm::kZstd, crypto::AesMode::kNone);
  const std::string lz4 = expected_suffix(compress::Algorithm::kLz4, crypto::AesMode::kNone);
  std::string error;
  std::string a = switch_wal(*pg(), &error);
  ASSERT_FALSE(a.empty()) << error;
  std::string b = switch_and_wait(*pg(), {{dir, zstd}});
  ASSERT_FALSE(b.empty());
  ASSERT_NE(a, b);
  std::optional<int> status = d->stop();
  ASSERT_EQ(status, std::optional<int>(0));

  wal::WalFileInfo info = wal::classify_wal_file(a + zstd);
  std::optional<std::string> plain_a =
      decode_stored_file(dir + "/" + a + zstd, info, crypto::AesMode::kNone, nullptr, &error);
  ASSERT_TRUE(plain_a.has_value()) << error;
  std::optional<std::string> plain_b =
      decode_stored_file(dir + "/" + b + zstd, info, crypto::AesMode::kNone, nullptr, &error);
  ASSERT_TRUE(plain_b.has_value()) << error;
  // a: killed while compressing - plain file plus half a temp file, no output yet.
  ASSERT_EQ(::unlink((dir + "/" + a + zstd).c_str()), 0);
  d->dir().write_file("base/primary/wal/" + a, *plain_a);
  d->dir().write_file("base/primary/wal/" + a + zstd + ".tmp.4242", plain_a->substr(0, 4096));
  // b: killed after the rename of b.zstd, before the plain file was removed.
  d->dir().write_file("base/primary/wal/" + b, *plain_b);
  std::cout << "[   INFO   ] crafted: " << join(list_dir(dir)) << "\n";

  d->config().set("pgmoneta", "compression", "lz4");
  ASSERT_EQ(d->start(), "");
  s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  auto deadline = steady_clock::now() + seconds(30);
  while ((path_exists(path_join(dir, a)) || path_exists(path_join(dir, b))) &&
         steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_FALSE(path_exists(dir + "/" + a)) << join(list_dir(dir));
  EXPECT_FALSE(path_exists(dir + "/" + b)) << join(list_dir(dir));
  std::this_thread::sleep_for(seconds(1));
  WalDirCheck check = check_wal_dir(
      {.wal_dir = dir, .reference_dir = pg()->data_dir() + "/pg_wal", .suffix = lz4}, {zstd});
  report("leftovers", check);
  EXPECT_TRUE(check.problems.empty()) << check.summary();
}

// ---- 7c. the server's fast shutdown ----

// At a fast shutdown the walsender sends everything and asks for a reply, and PostgreSQL waits
// until the receiver reports it flushed (WalSndDone). pg_receivewal fsyncs on such a request
// for exactly this reason; a receiver that answers with a stale flush position holds the
// server's shutdown until its next periodic status update (up to 10 s).
TEST_F(WalTest, FastShutdownOfTheServerIsNotHeldUntilTheNextStatusUpdate) {
  const std::string slot = "repl_shutdown";
  DaemonInstance* d = start_daemon("shutdown", slot,
                                   [](IniConfig& c) { c.set("pgmoneta", "compression", "zstd"); });
  ASSERT_NE(d, nullptr);
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  ASSERT_EQ(sql_value(*pg(), "CREATE TABLE IF NOT EXISTS wal_it_shutdown (i int)"), "");
  // Right after a periodic status update (reply_time changes), write a little WAL: it stays
  // unflushed until the next periodic update, ~10 s later.
  const std::string reply_sql =
      "SELECT reply_time FROM pg_stat_replication WHERE application_name = '" + slot + "'";
  std::string first = sql_value(*pg(), reply_sql);
  std::string now = first;
  auto deadline = steady_clock::now() + seconds(25);
  while ((now = sql_value(*pg(), reply_sql)) == first && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_NE(now, first) << "no status update from the receiver within 25 s";
  ASSERT_EQ(sql_value(*pg(), "INSERT INTO wal_it_shutdown VALUES (1)"), "");
  std::string lsn_text = sql_value(*pg(), "SELECT pg_current_wal_lsn()");
  auto lsn = wal::Lsn::parse(lsn_text);
  ASSERT_TRUE(lsn.has_value()) << lsn_text;
  std::string last;
  ASSERT_TRUE(wait_for_details(
                  *d, "primary",
                  [&](const nlohmann::json& j) {
                    auto received = wal::Lsn::parse(json_string(j, "WalReceivedLsn"));
                    return received && *received >= *lsn;
                  },
                  seconds(5), &last)
                  .has_value())
      << "the receiver did not receive " << lsn_text << ": " << last;

  auto begin = steady_clock::now();
  pg()->stop();
  auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - begin);
  ASSERT_EQ(pg()->restart(), "");  // the suite goes on with it
  std::cout << "[   INFO   ] fast shutdown took " << took.count() << " ms\n";
  // Without a receiver connected the shutdown takes well under a second here; the next periodic
  // status update would come ~9 s after the stop began.
  EXPECT_LT(took, seconds(5)) << "the server's fast shutdown waited " << took.count()
                              << " ms for the receiver to report its flush position";
  s = wait_streaming(*d);
  EXPECT_TRUE(s.is_object());
}

// ---- 8. reload with another compression ----

TEST_F(WalTest, ReloadWithNewCompressionRestartsTheReceiver) {
  DaemonInstance* d = start_daemon("reload", "repl_reload",
                                   [](IniConfig& c) { c.set("pgmoneta", "compression", "zstd"); });
  ASSERT_NE(d, nullptr);
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  int64_t pid = json_int(s, "WalReceiverPid");
  const std::string dir = daemon_wal_dir(*d);
  const std::string zstd = expected_suffix(compress::Algorithm::kZstd, crypto::AesMode::kNone);
  const std::string lz4 = expected_suffix(compress::Algorithm::kLz4, crypto::AesMode::kNone);
  std::string before = switch_and_wait(*pg(), {{dir, zstd}});
  ASSERT_FALSE(before.empty());

  // A reload that changes nothing the receiver depends on leaves it alone.
  d->config().set("pgmoneta", "log_level", "debug1");
  d->write_config();
  ASSERT_TRUE(d->process().signal(SIGHUP));
  ASSERT_TRUE(d->wait_for_log("configuration reloaded")) << tail(d->log());
  std::this_thread::sleep_for(seconds(3));
  s = wait_streaming(*d);
  EXPECT_EQ(json_int(s, "WalReceiverPid"), pid)
      << "a reload of log_level restarted the receiver: " << s.dump();
  pid = json_int(s, "WalReceiverPid");

  d->config().set("pgmoneta", "compression", "lz4");
  d->write_config();
  ASSERT_TRUE(d->process().signal(SIGHUP));
  s = wait_streaming(*d, "primary", seconds(30),
                     [&](const nlohmann::json& j) { return json_int(j, "WalReceiverPid") != pid; });
  ASSERT_TRUE(s.is_object()) << "the receiver was not restarted by the reload";
  ASSERT_EQ(sql_value(*pg(),
                      "CREATE TABLE IF NOT EXISTS wal_it_reload (i int); "
                      "INSERT INTO wal_it_reload SELECT generate_series(1, 50000)"),
            "");
  std::string error;
  ASSERT_FALSE(switch_wal(*pg(), &error).empty()) << error;
  std::string after = switch_and_wait(*pg(), {{dir, lz4, {zstd}}}, seconds(120));
  ASSERT_FALSE(after.empty());
  EXPECT_TRUE(path_exists(dir + "/" + before + zstd)) << join(list_dir(dir));
  EXPECT_TRUE(path_exists(dir + "/" + after + lz4)) << join(list_dir(dir));

  // `conf set` of a setting the receiver depends on restarts it as well.
  pid = json_int(s, "WalReceiverPid");
  CliResult set = d->cli({"conf", "set", "compression", "gzip"});
  ASSERT_EQ(set.exit_code(), 0) << set.describe();
  s = wait_streaming(*d, "primary", seconds(30),
                     [&](const nlohmann::json& j) { return json_int(j, "WalReceiverPid") != pid; });
  ASSERT_TRUE(s.is_object()) << "the receiver was not restarted by conf set compression";
  const std::string gz = expected_suffix(compress::Algorithm::kGzip, crypto::AesMode::kNone);
  std::string third = switch_and_wait(*pg(), {{dir, gz, {zstd, lz4}}}, seconds(120));
  ASSERT_FALSE(third.empty());
  EXPECT_TRUE(path_exists(dir + "/" + third + gz)) << join(list_dir(dir));

  WalDirCheck check = check_wal_dir(
      {.wal_dir = dir, .reference_dir = pg()->data_dir() + "/pg_wal", .suffix = gz}, {zstd, lz4});
  report("reload", check);
  EXPECT_TRUE(check.problems.empty()) << check.summary();
  EXPECT_GE(check.compared, 3u) << check.summary();
}

// ---- 9. follow ----

TEST_F(WalTest, FollowerStreamsOnlyWhileTheFollowedServerDoesNot) {
  DaemonInstance* d = start_daemon("follow", "repl_lead", [&](IniConfig& c) {
    c.set("pgmoneta", "compression", "zstd");
    c.set("secondary", "host", pg()->socket_dir());
    c.set("secondary", "port", std::to_string(pg()->port()));
    c.set("secondary", "user", PostgresInstance::kReplUser);
    c.set("secondary", "wal_slot", "repl_follow");
    c.set("secondary", "create_slot", "yes");
    c.set("secondary", "follow", "primary");
  });
  ASSERT_NE(d, nullptr);
  slots_.emplace_back(pg(), "repl_follow");
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  // The follower stays idle while the primary streams (observed for a while).
  auto until = steady_clock::now() + seconds(4);
  while (steady_clock::now() < until) {
    nlohmann::json f = server_details(*d, "secondary");
    ASSERT_TRUE(f.is_object());
    ASSERT_FALSE(json_bool(f, "WalStreaming", true)) << "the follower streams: " << f.dump();
    ASSERT_EQ(json_int(f, "WalReceiverPid"), 0) << f.dump();
    std::this_thread::sleep_for(milliseconds(500));
  }
  EXPECT_TRUE(walsender_pids(*pg(), "repl_follow").empty());

  CliResult off = d->cli({"mode", "primary", "offline"});
  ASSERT_EQ(off.exit_code(), 0) << off.describe();
  s = wait_streaming(*d, "secondary", seconds(60));
  ASSERT_TRUE(s.is_object()) << "the follower did not take over";
  EXPECT_FALSE(walsender_pids(*pg(), "repl_follow").empty());

  const std::string dir = daemon_wal_dir(*d, "secondary");
  const std::string zstd = expected_suffix(compress::Algorithm::kZstd, crypto::AesMode::kNone);
  std::string last = switch_and_wait(*pg(), {{dir, zstd}});
  ASSERT_FALSE(last.empty());
  WalDirCheck check = check_wal_dir(
      {.wal_dir = dir, .reference_dir = pg()->data_dir() + "/pg_wal", .suffix = zstd});
  report("follower", check);
  EXPECT_TRUE(check.problems.empty()) << check.summary();
  EXPECT_GE(check.compared, 1u) << check.summary();

  CliResult on = d->cli({"mode", "primary", "online"});
  ASSERT_EQ(on.exit_code(), 0) << on.describe();
  s = wait_streaming(*d, "primary", seconds(30));
  ASSERT_TRUE(s.is_object());
  std::string last_status;
  std::optional<nlohmann::json> f = wait_for_details(
      *d, "secondary",
      [](const nlohmann::json& j) {
        return !json_bool(j, "WalStreaming", true) && json_int(j, "WalReceiverPid") == 0;
      },
      seconds(30), &last_status);
  EXPECT_TRUE(f.has_value()) << "the follower keeps streaming after the primary is back: "
                             << last_status;
}

// ---- 10. a burst of nearly empty segments ----

TEST_F(WalTest, BurstOfSwitchedSegmentsArrivesComplete) {
  DaemonInstance* d = start_daemon("burst", "repl_burst",
                                   [](IniConfig& c) { c.set("pgmoneta", "compression", "lz4"); });
  ASSERT_NE(d, nullptr);
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  std::string first;
  std::string error;
  for (int i = 0; i < 15; ++i) {
    std::string segment = switch_wal(*pg(), &error);
    ASSERT_FALSE(segment.empty()) << error;
    if (first.empty()) {
      first = segment;
    }
  }
  const std::string dir = daemon_wal_dir(*d);
  const std::string suffix = expected_suffix(compress::Algorithm::kLz4, crypto::AesMode::kNone);
  std::string last = switch_and_wait(*pg(), {{dir, suffix}});
  ASSERT_FALSE(last.empty());
  WalDirCheck check = check_wal_dir(
      {.wal_dir = dir, .reference_dir = pg()->data_dir() + "/pg_wal", .suffix = suffix});
  report("burst", check);
  EXPECT_TRUE(check.problems.empty()) << check.summary();
  EXPECT_GE(check.compared, 16u) << check.summary();
  EXPECT_NE(std::find(check.names.begin(), check.names.end(), first), check.names.end())
      << check.summary();
}

// ---- 11. a server with 1 MiB WAL segments ----

TEST_F(WalTest, NonDefaultSegmentSizeIsHonoured) {
  constexpr uint64_t kSegSize = uint64_t{1} << 20;
  second_dir_ = std::make_unique<TempDir>("pgm-pg1m");
  second_ = std::make_unique<PostgresInstance>(second_dir_->path());
  second_->add_initdb_option("--wal-segsize=1");
  second_->add_setting("wal_keep_size = '1GB'");
  second_->add_setting("max_wal_size = '1GB'");
  second_->add_setting("checkpoint_timeout = '1h'");
  ASSERT_EQ(second_->start(), "");
  ASSERT_EQ(sql_value(*second_, "SHOW wal_segment_size"), "1MB");
  DaemonInstance* d = start_daemon(
      "segsize", "repl_segsize", [](IniConfig& c) { c.set("pgmoneta", "compression", "zstd"); },
      second_.get());
  ASSERT_NE(d, nullptr);
  nlohmann::json s = wait_streaming(*d);
  ASSERT_TRUE(s.is_object());
  ASSERT_EQ(sql_value(*second_,
                      "CREATE TABLE t AS SELECT g AS i, md5(g::text) AS m "
                      "FROM generate_series(1, 60000) g"),
            "");
  const std::string dir = daemon_wal_dir(*d);
  const std::string suffix = expected_suffix(compress::Algorithm::kZstd, crypto::AesMode::kNone);
  std::string last = switch_and_wait(*second_, {{dir, suffix}});
  ASSERT_FALSE(last.empty());
  WalDirCheck check = check_wal_dir({.wal_dir = dir,
                                     .reference_dir = second_->data_dir() + "/pg_wal",
                                     .suffix = suffix,
                                     .seg_size = kSegSize});
  report("1 MiB segments", check);
  EXPECT_TRUE(check.problems.empty()) << check.summary();
  EXPECT_GE(check.compared, 5u) << check.summary();
  EXPECT_NE(std::find(check.names.begin(), check.names.end(), last), check.names.end())
      << check.summary();
  s = server_details(*d, "primary");
  size_t compared = 0;
  auto flushed = wal::Lsn::parse(json_string(s, "WalFlushedLsn"));
  ASSERT_TRUE(flushed.has_value()) << s.dump();
  EXPECT_EQ(check_partial_prefix(dir, second_->data_dir() + "/pg_wal", wal::TimelineId(1), *flushed,
                                 &compared, kSegSize),
            "")
      << s.dump();
}

}  // namespace
}  // namespace pgm::testing
