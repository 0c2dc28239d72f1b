// ChildTable: the main process's record of its forked children, and the one fork prologue
// every child goes through (signals reset, process title, inherited descriptors closed).
// Main process only; single-threaded.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <sys/types.h>

#include "pgm/daemon/child_record.h"
#include "pgm/daemon/context.h"

namespace pgm::daemon {

class ChildTable {
 public:
  // Titles follow ctx.config->update_process_title; ctx outlives the table.
  explicit ChildTable(const DaemonContext& ctx) : ctx_(ctx) {}

  // Runs in every new child before its body: closes the descriptors the child must not keep
  // (listeners, clients' sockets) except `keep`. Set once by the server.
  void set_close_inherited(std::function<void(int keep)> close) {
    close_inherited_ = std::move(close);
  }

  // Forks a child titled `what` ("status", "wal/primary"; `detail` for verbose titles) that
  // keeps descriptor `keep` (-1: none) of the inherited ones, runs `body` and exits with its
  // return value. Returns the pid, or -1 when fork failed (logged).
  pid_t fork(const std::string& what, const std::string& detail, int keep,
             const std::function<int()>& body);

  // Called for every reaped child: what it was ("unknown" for a stranger) and whether we had
  // asked it to stop; forgets it.
  struct Exit {
    std::string what;
    bool stopped_by_us = false;
  };
  Exit reaped(pid_t pid);

  // Asks a child to stop (SIGTERM); its end by that signal is then no error.
  void stop(pid_t pid);

  size_t size() const { return children_.size(); }

  // From now on every change of the children is written to <base_dir>/.pgmoneta.children
  // (child_record.h), which a daemon started after this one was killed with -9 reads to stop
  // leftovers. Call once the repository lock is held.
  void record_in(const std::string& base_dir);

  // Shutdown: SIGTERM to every child, then waits up to `grace` before SIGKILL.
  void terminate_all(std::chrono::seconds grace);

 private:
  const DaemonContext& ctx_;
  std::function<void(int keep)> close_inherited_;
  std::map<pid_t, std::string> children_;  // pid -> what it does
  std::set<pid_t> stopped_;                // children we sent SIGTERM to
  std::unique_ptr<ChildRecordFile> record_;
  void write_record();
};

// A forked child must not keep the main process's signal plumbing: libev may have blocked
// signals (signalfd) and installed handlers that write into the main loop's pipe.
void reset_signals_in_child();

}  // namespace pgm::daemon
