// The record of the daemon's children, and the stopping of leftovers from a daemon killed -9.
//
// <base_dir>/.pgmoneta.children names the main process and every child it forked (metrics,
// WAL receivers, workers, management sessions), each with its start time, written by the main
// process under the repository lock whenever the children change. Children die with the main
// process (PR_SET_PDEATHSIG), but one that is stopped, blocks SIGTERM or loses a race can live
// on and hold the repository lock, a port or a replication slot. The next daemon on that
// base_dir reads the record and stops those still running (stop_leftover_children).
//
// Main process only; single-threaded.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace pgm::daemon {

struct RecordedProcess {
  pid_t pid = 0;
  uint64_t start_time = 0;  // /proc/<pid>/stat starttime; 0 when unknown (never matches)
  std::string what;         // "main", "wal/primary", "metrics", "backup/primary", ...
};

// The file's content. Text, one process a line:
//   pgmoneta children
//   boot <boot_id>
//   main <pid> <start time>
//   child <pid> <start time> <what>
struct ChildrenRecord {
  std::string boot_id;
  RecordedProcess main;
  std::vector<RecordedProcess> children;
};
std::string format_children_record(const ChildrenRecord& record);
// nullopt when `text` is no such record (a torn or foreign file).
std::optional<ChildrenRecord> parse_children_record(std::string_view text);

// Writes the record for this process as the main process. The file is replaced atomically
// (temp, rename) but not fsynced: it only matters while the processes it names may run, that
// is within this boot, and the page cache outlives any process; after a reboot the boot id
// no longer matches and the file is ignored. Failures are logged and otherwise ignored: the
// daemon runs on without it. The first failure is a warning, repeats (every fork on a full
// disk) are debug lines, and the first write that works again says so once.
class ChildRecordFile {
 public:
  static constexpr const char* kFileName = ".pgmoneta.children";
  explicit ChildRecordFile(const std::string& base_dir);
  // `children`: pid -> what it does.
  void write(const std::map<pid_t, std::string>& children);

 private:
  std::string path_;
  ChildrenRecord record_;
  bool failing_ = false;  // the last write failed
};

// Stops the children recorded in <base_dir>/.pgmoneta.children that still run although their
// main process is gone: SIGTERM (and SIGCONT, for a stopped one), up to `grace` to end, then
// SIGKILL. Only a process provably the recorded one is touched: same boot, same pid and start
// time, not a zombie, no longer a child of the recorded main process, running the same
// executable as this process, and not this process. Nothing is touched while the recorded main
// process runs. Logs one line per stopped process; returns how many were stopped.
size_t stop_leftover_children(const std::string& base_dir, std::chrono::milliseconds grace);

}  // namespace pgm::daemon
