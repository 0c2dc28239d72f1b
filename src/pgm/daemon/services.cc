#include "pgm/daemon/services.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "pgm/daemon/metrics_service.h"
#include "pgm/daemon/remote_session.h"
#include "pgm/log/log.h"
#include "pgm/net/listen.h"
#include "pgm/net/pg_wire.h"
#include "pgm/net/remote.h"

namespace pgm::daemon {

namespace {

static_assert(LoginGuard::kMaxSessions == kMaxRemoteSessions, "one shared slot per session");
// How often the login guard is asked for its summary line (it writes one at most per
// LoginGuard::kSummaryInterval).
constexpr double kLoginSummaryCheck = 5.0;

LoginGuard::Stage stage_of(const LoginSlot& slot) {
  switch (slot.stage.load()) {
    case LoginSlot::kFailing:
      return LoginGuard::Stage::kFailing;
    case LoginSlot::kAuthenticated:
      return LoginGuard::Stage::kAuthenticated;
    default:
      return LoginGuard::Stage::kLoggingIn;
  }
}
// A metrics process that died is started again after this.
constexpr std::chrono::seconds kMetricsRestartDelay{2};

// What the remote-management listener is made from; a change means closing and reopening it.
std::string management_settings_of(const config::Config& c) {
  if (c.management <= 0) {
    return "";
  }
  return fmt::format("{}|{}|{}|{}|{}|{}|{}", c.host, c.management, c.backlog, c.tls,
                     c.tls_cert_file, c.tls_key_file, c.tls_ca_file);
}

// The metrics socket's address part.
std::string metrics_bind_of(const config::Config& c) {
  if (c.metrics <= 0) {
    return "";
  }
  return fmt::format("{}|{}|{}", c.host, c.metrics, c.backlog);
}

// The console socket's address part: it is served by the metrics process, so it needs the
// metrics port on, as in pgmoneta.
std::string console_bind_of(const config::Config& c) {
  if (c.metrics <= 0 || c.console <= 0) {
    return "";
  }
  return fmt::format("{}|{}|{}", c.host, c.console, c.backlog);
}

// The nagios socket's address part.
std::string nagios_bind_of(const config::Config& c) {
  if (c.nagios <= 0) {
    return "";
  }
  return fmt::format("{}|{}|{}", c.host, c.nagios, c.backlog);
}

// At most this many nagios checks run at once; more connections are closed unanswered.
constexpr size_t kMaxNagiosChecks = 8;

}  // namespace

TcpServices::~TcpServices() { close(); }

Result<void> TcpServices::open() {
  PGM_TRY(open_management());
  if (auto r = open_metrics(); !r) {
    close_management();
    return r;
  }
  if (auto r = open_nagios(); !r) {
    close_management();
    metrics_fd_.reset();
    console_fd_.reset();
    return r;
  }
  return {};
}

Result<void> TcpServices::open_nagios() {
  const config::Config& c = *ctx_.config;
  if (c.nagios <= 0) {
    return {};
  }
  auto fd = net::listen_tcp(c.host, c.nagios, std::max(c.backlog, 16));
  if (!fd) {
    return tl::unexpected(fd.error().with_context("nagios port"));
  }
  nagios_fd_ = std::move(*fd);
  nagios_settings_ = nagios_bind_of(c);
  ev_io_init(
      &nagios_watcher_,
      [](struct ev_loop* /*loop*/, ev_io* w, int /*revents*/) {
        static_cast<TcpServices*>(w->data)->on_nagios_accept();
      },
      nagios_fd_.get(), EV_READ);
  nagios_watcher_.data = this;
  ev_io_start(loop_, &nagios_watcher_);
  log::info("nagios listening on {}:{}", c.host, c.nagios);
  return {};
}

void TcpServices::close_nagios() {
  if (nagios_fd_) {
    ev_io_stop(loop_, &nagios_watcher_);
    nagios_fd_.reset();
    log::info("nagios listener closed");
  }
  nagios_settings_.clear();
}

void TcpServices::on_nagios_accept() {
  for (;;) {
    UniqueFd fd(::accept4(nagios_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        log::warn("accept on the nagios port: {}",
                  std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
      }
      return;
    }
    if (ctx_.shared->shutting_down.load() || nagios_checks_.size() >= kMaxNagiosChecks) {
      continue;  // closed by UniqueFd
    }
    pid_t pid = children_.fork("nagios", "", fd.get(),
                               [&]() { return run_nagios_check(ctx_, std::move(fd)); });
    if (pid > 0) {
      nagios_checks_.insert(pid);
    }
  }
}

Result<void> TcpServices::open_management() {
  const config::Config& c = *ctx_.config;
  if (c.management <= 0) {
    return {};
  }
  std::shared_ptr<const net::TlsContext> tls;
  if (c.tls) {
    auto made = net::TlsContext::server({c.tls_cert_file, c.tls_key_file, c.tls_ca_file});
    if (!made) {
      return tl::unexpected(made.error().with_context("tls (remote management)"));
    }
    tls = std::move(*made);
  }
  auto fd = net::listen_tcp(c.host, c.management, std::max(c.backlog, 16));
  if (!fd) {
    return tl::unexpected(fd.error().with_context("management port"));
  }
  management_fd_ = std::move(*fd);
  management_tls_ = std::move(tls);
  management_settings_ = management_settings_of(c);
  ev_io_init(
      &management_watcher_,
      [](struct ev_loop* /*loop*/, ev_io* w, int /*revents*/) {
        static_cast<TcpServices*>(w->data)->on_management_accept();
      },
      management_fd_.get(), EV_READ);
  management_watcher_.data = this;
  ev_io_start(loop_, &management_watcher_);
  if (!ev_is_active(&login_summary_timer_)) {
    ev_timer_init(
        &login_summary_timer_,
        [](struct ev_loop* /*loop*/, ev_timer* w, int /*revents*/) {
          static_cast<TcpServices*>(w->data)->on_login_summary();
        },
        kLoginSummaryCheck, kLoginSummaryCheck);
    login_summary_timer_.data = this;
    ev_timer_start(loop_, &login_summary_timer_);
  }
  log::info("remote management listening on {}:{}{}", c.host, c.management,
            management_tls_ ? " (TLS)" : "");
  return {};
}

void TcpServices::close_management() {
  if (management_fd_) {
    ev_io_stop(loop_, &management_watcher_);
    management_fd_.reset();
    log::info("remote management listener closed");
  }
  management_tls_.reset();
  management_settings_.clear();
}

void TcpServices::refresh_login_stages() {
  for (const auto& [pid, slot] : remote_sessions_) {
    login_guard_.stage(pid, stage_of(ctx_.shared->login_slots[slot]));
  }
}

void TcpServices::on_management_accept() {
  for (;;) {
    UniqueFd fd(::accept4(management_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        log::warn("accept on the management port: {}",
                  std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
      }
      return;
    }
    if (ctx_.shared->shutting_down.load()) {
      continue;  // closed by UniqueFd
    }
    const std::string source = net::internal::peer_host(fd.get());
    const auto now = LoginGuard::Clock::now();
    refresh_login_stages();
    LoginGuard::Admission admission = login_guard_.admit(source, now);
    for (pid_t victim : admission.evict) {
      log::debug("remote management: session {} from {} still logging in; evicted to make room",
                 victim, login_guard_.source_of(victim));
      children_.stop(victim);
    }
    if (!admission.accept) {
      log::debug("remote management: connection from {} refused: {}", source, admission.refusal);
      net::send_refusal(fd.get(), net::wire::kSqlstateTooManyConnections, admission.refusal);
      continue;  // closed by UniqueFd
    }
    auto free_slot = std::find(slot_used_.begin(), slot_used_.end(), false);
    if (free_slot == slot_used_.end()) {
      // Cannot happen while the guard keeps to kMaxSessions (evicted ones end promptly).
      net::send_refusal(fd.get(), net::wire::kSqlstateTooManyConnections,
                        "too many remote management sessions");
      continue;
    }
    const auto slot = static_cast<size_t>(free_slot - slot_used_.begin());
    LoginSlot& shared_slot = ctx_.shared->login_slots[slot];
    shared_slot.stage.store(LoginSlot::kLoggingIn);
    net::LoginPolicy policy{
        admission.failure_delay, [&shared_slot](bool authenticated) {
          shared_slot.stage.store(authenticated ? LoginSlot::kAuthenticated : LoginSlot::kFailing);
        }};
    const net::TlsContext* tls = management_tls_.get();
    pid_t pid = children_.fork("remote", "", fd.get(), [&]() {
      return run_remote_session(ctx_, std::move(fd), tls, policy);
    });
    if (pid > 0) {
      slot_used_[slot] = true;
      remote_sessions_.emplace(pid, slot);
      login_guard_.started(pid, source, now);
    }
  }
}

void TcpServices::on_login_summary() {
  if (auto line = login_guard_.summary(LoginGuard::Clock::now())) {
    log::warn("{}", *line);
  }
}

Result<void> TcpServices::open_metrics() {
  const config::Config& c = *ctx_.config;
  const int backlog = std::max(c.backlog, 16);
  // A listener whose address did not change stays open: binding its port again while the old
  // metrics process still holds it would fail.
  if (!metrics_fd_ && c.metrics > 0) {
    auto fd = net::listen_tcp(c.host, c.metrics, backlog);
    if (!fd) {
      return tl::unexpected(fd.error().with_context("metrics port"));
    }
    metrics_fd_ = std::move(*fd);
    metrics_settings_ = metrics_bind_of(c);
    log::info("metrics listening on {}:{}", c.host, c.metrics);
  }
  if (!console_fd_ && !console_bind_of(c).empty()) {
    auto fd = net::listen_tcp(c.host, c.console, backlog);
    if (!fd) {
      return tl::unexpected(fd.error().with_context("console port"));
    }
    console_fd_ = std::move(*fd);
    console_settings_ = console_bind_of(c);
    log::info("console listening on {}:{}", c.host, c.console);
  }
  return {};
}

void TcpServices::close_metrics_listeners(bool metrics, bool console) {
  if (metrics) {
    if (metrics_fd_) {
      metrics_fd_.reset();
      log::info("metrics listener closed");
    }
    metrics_settings_.clear();
  }
  if (console) {
    if (console_fd_) {
      console_fd_.reset();
      log::info("console listener closed");
    }
    console_settings_.clear();
  }
}

void TcpServices::start_metrics() {
  if (!metrics_fd_ || metrics_child_ != 0 || shut_ || ctx_.shared->shutting_down.load()) {
    return;
  }
  metrics_next_start_ = {};
  pid_t pid = children_.fork("metrics", "", metrics_fd_.get(), [this]() {
    return run_metrics_service(ctx_, std::move(metrics_fd_), std::move(console_fd_));
  });
  if (pid < 0) {
    metrics_next_start_ = std::chrono::steady_clock::now() + kMetricsRestartDelay;
    return;
  }
  metrics_child_ = pid;
}

void TcpServices::stop_metrics() {
  if (metrics_child_ != 0) {
    children_.stop(metrics_child_);
    metrics_stopping_ = metrics_child_;  // still holds its listeners until it has exited
    metrics_child_ = 0;
  }
}

void TcpServices::keep_metrics_running() {
  if (metrics_child_ != 0 || std::chrono::steady_clock::now() < metrics_next_start_) {
    return;
  }
  if (!metrics_reopen_.empty()) {
    auto r = open_metrics();
    if (!r && metrics_stopping_ != 0) {
      return;  // the old process has not exited yet: the next tick tries again
    }
    if (!r) {
      log::error("{}: {}", metrics_reopen_, r.error().message());
    }
    metrics_reopen_.clear();
  }
  start_metrics();  // with what is open: a console that could not bind stays off
}

void TcpServices::restart(const char* why, bool config_changed) {
  const config::Config& c = *ctx_.config;
  if (management_settings_of(c) != management_settings_) {
    close_management();
    if (auto r = open_management(); !r) {
      log::error("{}: {}", why, r.error().message());
    }
  }
  const bool metrics_moved = metrics_bind_of(c) != metrics_settings_;
  const bool console_moved = console_bind_of(c) != console_settings_;
  if (metrics_moved || console_moved || config_changed) {
    stop_metrics();
  }
  close_metrics_listeners(metrics_moved, console_moved);
  auto opened = open_metrics();
  if (!opened && metrics_stopping_ != 0) {
    // The old metrics process may hold the address a moment longer (the same port on another
    // host, or two ports swapped): the watchdog tries again once it has exited.
    log::debug("{}: {}; trying again when the old metrics process has exited", why,
               opened.error().message());
    metrics_reopen_ = why;
  } else {
    if (!opened) {
      log::error("{}: {}", why, opened.error().message());
    }
    start_metrics();
  }
  restart_nagios(why);
}

void TcpServices::restart_nagios(const char* why) {
  const config::Config& c = *ctx_.config;
  if (nagios_bind_of(c) != nagios_settings_) {
    close_nagios();
    if (auto r = open_nagios(); !r) {
      log::error("{}: {}", why, r.error().message());
    }
  }
}

bool TcpServices::child_exited(pid_t pid, int status) {
  if (nagios_checks_.erase(pid) > 0) {
    return true;
  }
  if (auto it = remote_sessions_.find(pid); it != remote_sessions_.end()) {
    login_guard_.ended(pid, stage_of(ctx_.shared->login_slots[it->second]),
                       LoginGuard::Clock::now());
    slot_used_[it->second] = false;
    remote_sessions_.erase(it);
    return true;
  }
  if (pid != 0 && pid == metrics_stopping_) {
    metrics_stopping_ = 0;
    return true;
  }
  if (pid != metrics_child_ || pid == 0) {
    return false;
  }
  metrics_child_ = 0;
  bool tls_failed = WIFEXITED(status) && WEXITSTATUS(status) == kMetricsTlsFailed;
  // Bad TLS files stay bad until the configuration changes (restart() then).
  metrics_next_start_ = tls_failed ? std::chrono::steady_clock::time_point::max()
                                   : std::chrono::steady_clock::now() + kMetricsRestartDelay;
  return true;
}

void TcpServices::close() {
  shut_ = true;
  ev_timer_stop(loop_, &login_summary_timer_);
  close_management();
  close_nagios();
  metrics_fd_.reset();
  console_fd_.reset();
}

void TcpServices::close_inherited(int keep) {
  if (management_fd_.get() != keep) {
    management_fd_.reset();
  }
  // The metrics process keeps the console's listener with its own.
  if (metrics_fd_.get() != keep) {
    metrics_fd_.reset();
    console_fd_.reset();
  }
  if (nagios_fd_.get() != keep) {
    nagios_fd_.reset();
  }
}

}  // namespace pgm::daemon
