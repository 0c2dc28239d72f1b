// PidFile and BaseDirLock: one daemon per PID file and per repository.
//
// PidFile: the daemon's PID file (config `pidfile`). Created exclusively at start-up; a file
// left by a crashed daemon (its process gone) is replaced, one of a running daemon is an
// error. Removed by remove() or on destruction in the process that created it. Main process
// only.
#pragma once

#include <chrono>
#include <string>

#include <sys/types.h>

#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"

namespace pgm::daemon {

class PidFile {
 public:
  static Result<PidFile> create(const std::string& path);
  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&&) = delete;
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;
  ~PidFile();

  // Removes the file now (idempotent; only in the process that created it).
  void remove();

 private:
  PidFile(std::string path, pid_t owner) : path_(std::move(path)), owner_(owner) {}
  std::string path_;
  pid_t owner_ = 0;  // 0 once removed or moved from
};

// The repository's own lock: an exclusive flock on <base_dir>/.pgmoneta.lock, taken at
// start-up before anything is written there and held for the daemon's life. Two daemons with
// different PID files and sockets but one base_dir would take the same labels and remove each
// other's backups in flight; the second is refused, naming the first's PID (written in the
// file). The descriptor is inherited by the daemon's children (not across exec), so a process
// of a daemon killed with -9 still holds the lock until it exits. The file stays; only the lock
// counts, and the kernel drops it with the last process.
//
// acquire() also stops what a daemon killed with -9 left running (stop_leftover_children,
// child_record.h) before the caller binds any port: when the lock is held but the PID in the
// file is gone (or a zombie), its recorded children are stopped and the lock is waited for up
// to kLeftoverGrace more; once locked, any recorded leftover still running is stopped too.
class BaseDirLock {
 public:
  static constexpr const char* kFileName = ".pgmoneta.lock";
  static constexpr std::chrono::seconds kLeftoverGrace{5};
  static Result<BaseDirLock> acquire(const std::string& base_dir);

 private:
  explicit BaseDirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace pgm::daemon
