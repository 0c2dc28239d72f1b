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

#include <sys/types.h>

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
  std::string current_file;
  std::string last_error;
};

class ServerState {
 public:
  // Repository lock: one backup/restore/delete/... per server at a time, no queueing.
  // Returns false at once when another process holds it.
  bool try_lock_repository(pid_t owner);
  void unlock_repository(pid_t owner);
  pid_t repository_owner() const { return repository_owner_.load(); }

  // Operator's `mode <server> offline|online`.
  void set_admin_offline(bool offline) { admin_offline_.store(offline); }
  bool admin_offline() const { return admin_offline_.load(); }

  bool online() const { return online_.load(); }

  // Publishes a probe result (called by the probe child).
  void publish(const ServerSnapshot& s);
  // Marks the server offline with a reason (keeps the last known version facts).
  void mark_offline(std::string_view reason);
  ServerSnapshot snapshot() const;

  std::atomic<bool> active_backup{false};
  std::atomic<bool> active_restore{false};
  std::atomic<bool> active_archive{false};
  std::atomic<bool> active_delete{false};
  std::atomic<bool> active_retention{false};
  // Progress of the running backup, written by the backup child (reference §2 `progress`).
  // progress_phase: 0 idle, 1 starting, 2 streaming, 3 finishing.
  std::atomic<int> progress_phase{0};
  // Which operation the progress fields describe (the repository lock allows one at a time):
  // 0 backup, 1 restore, 2 verify, 3 archive.
  std::atomic<int> progress_operation{0};
  std::atomic<uint64_t> progress_done{0};
  std::atomic<uint64_t> progress_total{0};
  std::atomic<int64_t> progress_started_ms{0};  // wall clock, ms since the epoch
  std::atomic<uint64_t> operation_count{0};
  std::atomic<uint64_t> failed_operation_count{0};
  // Last proven restore of this server (verify --start, verification_start), written by the
  // verify child: -1 none yet, 0 failed, 1 succeeded; wall clock seconds since the epoch when
  // it ended; its total duration in ms; the backup's label as a number (YYYYMMDDHHMMSS).
  std::atomic<int> proven_restore_ok{-1};
  std::atomic<int64_t> proven_restore_time{0};
  std::atomic<uint64_t> proven_restore_ms{0};
  std::atomic<int64_t> proven_restore_label{0};

  // Off-site copies (daemon/offsite.h), one slot per engine (ssh, s3, azure): consecutive
  // failed attempts, and the wall-clock ms before which the periodic pass leaves the engine
  // alone (backoff). Written by the offsite pass and the backup child.
  std::atomic<int> offsite_failures[3] = {};
  std::atomic<int64_t> offsite_retry_after_ms[3] = {};

  // WAL receiver. wal_pid is written by the main process (fork/reap); the rest by the
  // receiver child.
  std::atomic<pid_t> wal_pid{0};
  std::atomic<bool> wal_streaming{false};
  std::atomic<bool> wal_invalid{false};
  std::atomic<uint32_t> wal_timeline{0};
  std::atomic<uint64_t> wal_received{0};
  std::atomic<uint64_t> wal_flushed{0};
  std::atomic<uint64_t> wal_server_end{0};
  void set_wal_file(std::string_view name);
  void set_wal_error(std::string_view message);
  WalSnapshot wal_snapshot() const;

 private:
  void lock_text() const;
  void unlock_text() const;

  std::atomic<pid_t> repository_owner_{0};
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
};

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
