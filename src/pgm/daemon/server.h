// Server: the main process. Owns the libev loop, the management unix socket, the shared
// segment, the PID file and every forked child; answers quick commands inline and forks a
// child for the rest. Single-threaded; never blocks in a loop callback.
//
// TCP services (config `management`, `metrics`; 0 = off) are bound here so that start-up and
// SIGUSR1 report a busy port at once, and served by children: one per remote-management
// connection (remote_session.h), one long-lived metrics process (metrics_service.h). SIGUSR1
// and every configuration change re-open a listener whose settings changed.
#pragma once

#include <memory>

#include "pgm/core/result.h"
#include "pgm/daemon/context.h"
#include "pgm/daemon/sd_notify.h"
#include "pgm/log/log.h"

namespace pgm::daemon {

struct ServerOptions {
  config::ConfigPaths paths;
  config::Loaded loaded;  // the configuration read at start-up
  // systemd's readiness protocol: READY=1 once commands are accepted, RELOADING=1/READY=1
  // around a reload, STOPPING=1 at shutdown, STATUS= lines (disabled outside systemd).
  SystemdNotifier notifier;
};

class Server {
 public:
  // Prepares everything that can fail at start-up: directories, PID file, shared memory,
  // vault, socket. Errors name what was wrong.
  static Result<std::unique_ptr<Server>> create(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Runs until shutdown; returns the process exit code.
  int run();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Maps our configuration onto the logger's options.
log::Options log_options(const config::Config& c);

}  // namespace pgm::daemon
