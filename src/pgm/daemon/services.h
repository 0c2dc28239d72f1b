// TcpServices: the daemon's TCP ports (config `management`, `metrics`, `console` and `nagios`;
// 0 = off). The
// main process binds them, so start-up and a restart report a busy port at once; children serve
// them: one per remote-management connection (remote_session.h; admitted, delayed after failed
// logins and evicted by login_guard.h), one long-lived metrics process (metrics_service.h) that
// serves the console port too (the console needs the metrics port, as in pgmoneta),
// restarted when it dies or when the configuration changes, and one short-lived child per
// `nagios` connection (run_nagios_check). Main process only; never blocks in a callback.
#pragma once

#include <ev.h>

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <sys/types.h>

#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"
#include "pgm/daemon/children.h"
#include "pgm/daemon/context.h"
#include "pgm/daemon/login_guard.h"
#include "pgm/net/tls.h"

namespace pgm::daemon {

class TcpServices {
 public:
  TcpServices(struct ev_loop* loop, const DaemonContext& ctx, ChildTable& children)
      : loop_(loop), ctx_(ctx), children_(children) {}
  ~TcpServices();
  TcpServices(const TcpServices&) = delete;
  TcpServices& operator=(const TcpServices&) = delete;

  // Binds the ports as configured (start-up): errors name the port and the cause.
  Result<void> open();

  // Brings the services in line with the configuration in memory: a listener whose address,
  // port or TLS settings changed is closed and opened again; the metrics process restarts
  // when its socket changed or, with config_changed, because it serves a copy of the
  // configuration. Failures are logged; the service then stays off until the next change.
  void restart(const char* why, bool config_changed);

  // Starts the metrics process when it should run and does not (start-up, after a crash);
  // called by the server's watchdog tick.
  void keep_metrics_running();

  // A child ended: true when it was one of ours (a remote session, the metrics process or a
  // nagios check).
  bool child_exited(pid_t pid, int status);

  // Closes the listeners (shutdown); in a forked child, every descriptor but `keep`.
  void close();
  void close_inherited(int keep);

 private:
  Result<void> open_management();
  void close_management();
  void on_management_accept();
  // Brings the guard up to date with what the sessions wrote in their shared slots.
  void refresh_login_stages();
  void on_login_summary();
  // Opens the metrics and console listeners that are configured and not open.
  Result<void> open_metrics();
  void close_metrics_listeners(bool metrics, bool console);
  void start_metrics();
  void stop_metrics();
  Result<void> open_nagios();
  void close_nagios();
  void restart_nagios(const char* why);  // the nagios part of restart()
  void on_nagios_accept();

  struct ev_loop* loop_;
  const DaemonContext& ctx_;
  ChildTable& children_;
  // Remote management.
  UniqueFd management_fd_;
  ev_io management_watcher_{};
  std::string management_settings_;  // what the open listener was made from; "" when closed
  std::shared_ptr<const net::TlsContext> management_tls_;
  LoginGuard login_guard_;
  std::map<pid_t, size_t> remote_sessions_;           // pid -> its slot in shared login_slots
  std::array<bool, kMaxRemoteSessions> slot_used_{};  // by a live session
  ev_timer login_summary_timer_{};
  // Prometheus.
  UniqueFd metrics_fd_;
  UniqueFd console_fd_;           // served by the metrics process too
  std::string metrics_settings_;  // what each open listener was made from; "" when closed
  std::string console_settings_;
  pid_t metrics_child_ = 0;
  pid_t metrics_stopping_ = 0;  // a stopped metrics process not reaped yet
  std::string metrics_reopen_;  // why a listener waits for that process to exit; "" if none
  std::chrono::steady_clock::time_point metrics_next_start_{};
  // Nagios.
  UniqueFd nagios_fd_;
  ev_io nagios_watcher_{};
  std::string nagios_settings_;  // what the open listener was made from; "" when closed
  std::set<pid_t> nagios_checks_;
  bool shut_ = false;
};

}  // namespace pgm::daemon
