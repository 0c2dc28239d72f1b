// PeriodicJobs: the main process's timers for the background jobs, each forked as its own
// child, one at a time per job, none while shutting down:
//   probe         every probe_interval (default 60 s) and on request (start-up, reload,
//                 mode): server facts, then WAL continuity (continuity.h)
//   retention     every retention_interval (default 300 s)
//   offsite       every 5 s while a remote storage engine is enabled (offsite.h)
//   verification  every `verification` seconds, off at 0; never at start-up
// Main process only.
#pragma once

#include <ev.h>

#include <functional>

#include <sys/types.h>

#include "pgm/daemon/children.h"
#include "pgm/daemon/context.h"

namespace pgm::daemon {

class PeriodicJobs {
 public:
  PeriodicJobs(struct ev_loop* loop, const DaemonContext& ctx, ChildTable& children)
      : loop_(loop), ctx_(ctx), children_(children) {}

  // Starts the timers (after the loop exists).
  void start();
  // Re-reads the intervals from the configuration (after a reload or conf set).
  void configuration_changed();
  // Stops every timer (shutdown).
  void stop();

  void run_probe();

  // A child ended: true when it was one of the jobs (its slot frees).
  bool child_exited(pid_t pid);

 private:
  struct Job {
    PeriodicJobs* owner = nullptr;
    const char* title = "";
    std::function<void()> body;
    ev_timer timer{};
    double interval = 0;  // seconds the timer runs with; 0 = stopped
    pid_t pid = 0;        // the running child, 0 when none
  };
  void init(Job& job, const char* title, std::function<void()> body);
  void arm(Job& job, double interval);
  void run(Job& job);

  struct ev_loop* loop_;
  const DaemonContext& ctx_;
  ChildTable& children_;
  Job probe_, retention_, offsite_, verification_;
};

}  // namespace pgm::daemon
