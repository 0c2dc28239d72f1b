// PidFile: the daemon's PID file (config `pidfile`). Created exclusively at start-up; a file
// left by a crashed daemon (its process gone) is replaced, one of a running daemon is an
// error. Removed by remove() or on destruction in the process that created it. Main process
// only.
#pragma once

#include <string>

#include <sys/types.h>

#include "pgm/core/result.h"

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

}  // namespace pgm::daemon
