// RepositoryState: the part of a server's shared state that the repository workflows touch
// (backup, restore, verify, retention, off-site): the repository lock; the activity flags and
// progress of the running operation with the pid that marked them; counters; the off-site
// backoff. It lives in the daemon's MAP_SHARED segment (daemon/shared_state.h derives
// ServerState from it), so it holds only lock-free atomics: process- and thread-safe member
// by member.
//
// Workflows mark their work with ActivityGuard, never by hand; when a child dies the parent
// calls release(pid), which clears whatever that pid held.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include <sys/types.h>

#include "pgm/activity/names.h"

namespace pgm::activity {

// The running operation's figures, as progress, metrics and status show them.
struct Progress {
  Operation operation = Operation::kBackup;
  Phase phase = Phase::kIdle;
  uint64_t done = 0;       // bytes
  uint64_t total = 0;      // bytes, 0 when unknown
  int64_t started_ms = 0;  // wall clock, ms since the epoch
};

// Wall clock in ms since the epoch (Progress::started_ms, off-site backoff deadlines).
int64_t wall_clock_ms();

// Off-site engines by slot (storage::Engine's values: ssh, s3, azure).
inline constexpr size_t kOffsiteEngines = 3;

class RepositoryState {
 public:
  // Repository lock: one backup/restore/delete/... per server at a time, no queueing.
  // Returns false at once when another process holds it.
  bool try_lock_repository(pid_t owner);
  void unlock_repository(pid_t owner);
  pid_t repository_owner() const { return repository_owner_.load(); }

  bool active(Activity a) const;
  Progress progress() const;
  // The process whose activity is marked; 0 when none is.
  pid_t activity_owner() const { return activity_owner_.load(); }

  // Clears what process `pid` held: its activity flags, its progress and the repository
  // lock. The parent calls it for a dead child; another pid's marks stay.
  void release(pid_t pid);

  std::atomic<uint64_t> operation_count{0};
  std::atomic<uint64_t> failed_operation_count{0};
  // Last proven restore of this server (verify --start, verification_start): -1 none yet,
  // 0 failed, 1 succeeded; wall clock seconds since the epoch when it ended; its total
  // duration in ms; the backup's label as a number (YYYYMMDDHHMMSS).
  std::atomic<int> proven_restore_ok{-1};
  std::atomic<int64_t> proven_restore_time{0};
  std::atomic<uint64_t> proven_restore_ms{0};
  std::atomic<int64_t> proven_restore_label{0};
  // Last hot-standby update after a backup (daemon/commands/hot_standby.h): -1 none yet, 0 a
  // copy failed, 1 every copy updated; when it ended (seconds since the epoch); failed updates.
  std::atomic<int> hot_standby_ok{-1};
  std::atomic<int64_t> hot_standby_time{0};
  std::atomic<uint64_t> hot_standby_failures{0};

  // Off-site copies (offsite/offsite.h), one slot per engine: consecutive failed attempts,
  // and the wall-clock ms before which the periodic pass leaves the engine alone (backoff).
  std::atomic<int> offsite_failures[kOffsiteEngines] = {};
  std::atomic<int64_t> offsite_retry_after_ms[kOffsiteEngines] = {};

 private:
  friend class ActivityGuard;

  std::atomic<pid_t> repository_owner_{0};
  std::atomic<pid_t> activity_owner_{0};
  std::atomic<uint32_t> flags_{0};  // bit per Activity
  std::atomic<int> operation_{0};
  std::atomic<int> phase_{0};
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> total_{0};
  std::atomic<int64_t> started_ms_{0};
};

// Marks an operation of this process in a RepositoryState and clears it on every exit path.
// Not copyable; one thread uses it (progress callbacks may run on worker threads: set_progress
// only stores atomics).
class ActivityGuard {
 public:
  // Marks the activity flag only (delete, retention).
  ActivityGuard(RepositoryState& state, Activity flag);
  // Marks progress of `operation` in `phase` (done 0, `total`, started now) and, when given,
  // an activity flag.
  ActivityGuard(RepositoryState& state, Operation operation, Phase phase,
                std::optional<Activity> flag = std::nullopt, uint64_t total = 0);
  ~ActivityGuard();
  ActivityGuard(const ActivityGuard&) = delete;
  ActivityGuard& operator=(const ActivityGuard&) = delete;

  void set_phase(Phase phase);
  void set_progress(uint64_t done, uint64_t total);
  // Clears the flag before the end (a finished backup still uploading is no longer "active").
  void drop_flag();

 private:
  void mark_owner();

  RepositoryState& state_;
  std::optional<Activity> flag_;
  bool progress_ = false;
};

// Holds a server's repository lock for one operation; released on every path.
class RepositoryLock {
 public:
  explicit RepositoryLock(RepositoryState& state);
  ~RepositoryLock();
  RepositoryLock(const RepositoryLock&) = delete;
  RepositoryLock& operator=(const RepositoryLock&) = delete;
  bool locked() const { return locked_; }

 private:
  RepositoryState& state_;
  bool locked_ = false;
};

}  // namespace pgm::activity
