// SharedState: the mmap'd segment shared by the main process and every forked child.
//
// Created once by the main process before any fork (MAP_SHARED | MAP_ANONYMOUS), so every
// child sees the same bytes. Everything in it is trivially destructible and has a fixed size:
// flags and counters are lock-free atomics; short texts (reasons, versions) are guarded by a
// per-server spin lock because they are written rarely (by the probe child) and read rarely
// (by status). Thread- and process-safe as described per member.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <sys/types.h>

#include "pgm/activity/repository_state.h"
#include "pgm/core/result.h"
#include "pgm/metrics/counters.h"

namespace pgm::daemon {

inline constexpr size_t kMaxServers = 64;

// A copy of the probe's findings, as status shows them.
struct ServerSnapshot {
  bool online = false;
  bool admin_offline = false;
  bool probed = false;
  int version_num = 0;
  int major_version = 0;
  int minor_version = 0;
  bool checksums = false;
  bool primary = false;
  bool summarize_wal = false;
  uint32_t block_size = 0;
  uint32_t wal_segment_size = 0;
  int64_t last_probe_epoch = 0;
  std::string wal_level;
  std::string reason;  // why the server is offline, empty when online
};

// The WAL receiver's state, as status shows it.
struct WalSnapshot {
  pid_t pid = 0;
  bool streaming = false;
  bool invalid = false;  // the slot is missing or not physical
  uint32_t timeline = 0;
  uint64_t received = 0;    // LSN
  uint64_t flushed = 0;     // LSN
  uint64_t server_end = 0;  // LSN
  uint32_t unfinished = 0;  // complete segments still plain, waiting to be compressed/encrypted
  std::string current_file;
  std::string last_error;
};

// WAL continuity and RPO (continuity.h), as status and metrics show them.
struct ContinuitySnapshot {
  int64_t checked_epoch = 0;  // when the probe last checked the stored WAL; 0 never
  bool gap = false;
  std::string first_missing;     // the first missing (or CRC-bad) segment; empty without a gap
  std::string problem;           // what is wrong with it: "missing" or the decoder's finding
  int64_t stored_commit_us = 0;  // newest commit time in the stored WAL (Unix us); 0 unknown
  int64_t server_commit_us = 0;  // the server's last commit (track_commit_timestamp); 0 unknown
  uint64_t server_lsn = 0;       // the server's flushed (or replayed) WAL at the last probe
  // The probe before that one: its LSN and when it was read (Unix us); 0 unknown.
  uint64_t prev_server_lsn = 0;
  int64_t prev_server_lsn_us = 0;
};

// A server's shared state: the repository's (lock, activity, progress, counters, off-site
// backoff; activity/repository_state.h) plus the probe's findings and the WAL receiver's.
class ServerState : public activity::RepositoryState {
 public:
  // Operator's `mode <server> offline|online`.
  void set_admin_offline(bool offline) { admin_offline_.store(offline); }
  bool admin_offline() const { return admin_offline_.load(); }

  bool online() const { return online_.load(); }

  // Publishes a probe result (called by the probe child).
  void publish(const ServerSnapshot& s);
  // Marks the server offline with a reason (keeps the last known version facts).
  void mark_offline(std::string_view reason);
  ServerSnapshot snapshot() const;

  // WAL receiver. wal_pid is written by the main process (fork/reap); the rest by the
  // receiver child.
  std::atomic<pid_t> wal_pid{0};
  std::atomic<bool> wal_streaming{false};
  std::atomic<bool> wal_invalid{false};
  std::atomic<uint32_t> wal_timeline{0};
  std::atomic<uint64_t> wal_received{0};
  std::atomic<uint64_t> wal_flushed{0};
  std::atomic<uint64_t> wal_server_end{0};
  std::atomic<uint32_t> wal_unfinished{0};  // complete segments waiting for compression
  void set_wal_file(std::string_view name);
  void set_wal_error(std::string_view message);
  WalSnapshot wal_snapshot() const;

  // WAL continuity, written by the probe child (continuity.h). wal_checked_below: every
  // complete segment below this segment number was decoded once (0: none yet);
  // wal_bad_segno: the first segment that failed decoding (UINT64_MAX: none).
  std::atomic<uint64_t> wal_checked_below{0};
  std::atomic<uint64_t> wal_bad_segno{UINT64_MAX};
  std::atomic<int64_t> wal_checked_epoch{0};
  std::atomic<bool> wal_gap{false};
  std::atomic<int64_t> wal_stored_commit_us{0};
  std::atomic<int64_t> server_commit_us{0};
  std::atomic<uint64_t> server_lsn{0};
  std::atomic<int64_t> server_lsn_us{0};  // when server_lsn was read
  std::atomic<uint64_t> prev_server_lsn{0};
  std::atomic<int64_t> prev_server_lsn_us{0};
  void set_wal_gap(std::string_view first_missing, std::string_view problem);
  void set_wal_bad(std::string_view segment, std::string_view problem);
  // The bad segment's name and the decoder's finding ("" when none).
  std::pair<std::string, std::string> wal_bad() const;
  ContinuitySnapshot continuity_snapshot() const;

 private:
  void lock_text() const;
  void unlock_text() const;

  std::atomic<bool> admin_offline_{false};
  std::atomic<bool> online_{false};
  mutable std::atomic<bool> text_lock_{false};
  // Guarded by text_lock_:
  bool probed_ = false;
  int version_num_ = 0;
  bool checksums_ = false;
  bool primary_ = false;
  bool summarize_wal_ = false;
  uint32_t block_size_ = 0;
  uint32_t wal_segment_size_ = 0;
  int64_t last_probe_epoch_ = 0;
  char wal_level_[16] = {};
  char reason_[512] = {};
  char wal_file_[64] = {};
  char wal_error_[512] = {};
  char gap_segment_[64] = {};
  char gap_problem_[512] = {};
  char bad_segment_[64] = {};
  char bad_problem_[512] = {};
};

// What a remote-management session has made of its login, written by the session's child and
// read by the main process (login_guard.h). One slot per session; the main process hands out
// the slots and resets one to kLoggingIn before each fork.
struct LoginSlot {
  static constexpr uint8_t kLoggingIn = 0;
  static constexpr uint8_t kFailing = 1;
  static constexpr uint8_t kAuthenticated = 2;
  std::atomic<uint8_t> stage{kLoggingIn};
};
inline constexpr size_t kMaxRemoteSessions = 64;

struct SharedState {
  uint32_t magic = 0x50474d53;  // "PGMS"
  std::atomic<int> log_level{0};
  std::atomic<bool> shutting_down{false};
  std::atomic<int64_t> start_epoch{0};
  // Bumped by `clear prometheus`: the metrics process drops cached answers when it changes.
  std::atomic<uint64_t> metrics_generation{0};
  metrics::MetricsCounters metrics_counters;  // the metrics endpoint's own counters
  // Log lines written by every process of the daemon, by log::Level value (log::count_lines_in).
  std::atomic<uint64_t> log_lines[10] = {};
  size_t number_of_servers = 0;
  ServerState servers[kMaxServers];
  LoginSlot login_slots[kMaxRemoteSessions];

  // Clears what a dead child held on every server: activity marks, repository lock.
  void release(pid_t pid);
};

// Owns the mapping; unmapped on destruction in the process that created it.
class SharedSegment {
 public:
  static Result<SharedSegment> create();
  SharedSegment(SharedSegment&& other) noexcept;
  SharedSegment& operator=(SharedSegment&&) = delete;
  SharedSegment(const SharedSegment&) = delete;
  SharedSegment& operator=(const SharedSegment&) = delete;
  ~SharedSegment();

  SharedState& state() const { return *state_; }

 private:
  explicit SharedSegment(SharedState* s) : state_(s) {}
  SharedState* state_;
};

}  // namespace pgm::daemon
