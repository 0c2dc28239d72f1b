#include "pgm/daemon/server.h"

#include <ev.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pgm/core/scope_exit.h"
#include "pgm/daemon/children.h"
#include "pgm/daemon/commands/hot_standby.h"
#include "pgm/daemon/jobs.h"
#include "pgm/daemon/management_endpoint.h"
#include "pgm/daemon/pid_file.h"
#include "pgm/daemon/reconfigure.h"
#include "pgm/daemon/services.h"
#include "pgm/daemon/wal_receiver.h"
#include "pgm/daemon/wal_supervisor.h"
#include "pgm/io/file.h"
#include "pgm/management/errors.h"
#include "pgm/restore/leftovers.h"
#include "pgm/version.h"

namespace pgm::daemon {

namespace {

constexpr std::chrono::seconds kChildShutdownGrace{10};
// The watchdog: how often WAL receivers are reconciled with what should run, and the metrics
// process is checked.
constexpr double kWatchdogInterval = 1.0;

unsigned int libev_backend(config::Libev libev) {
  switch (libev) {
    case config::Libev::kAuto:
      return EVFLAG_AUTO;
    case config::Libev::kSelect:
      return EVBACKEND_SELECT;
    case config::Libev::kPoll:
      return EVBACKEND_POLL;
    case config::Libev::kEpoll:
      return EVBACKEND_EPOLL;
    case config::Libev::kIouring:
      return EVBACKEND_IOURING;
    case config::Libev::kDevpoll:
      return EVBACKEND_DEVPOLL;
    case config::Libev::kPort:
      return EVBACKEND_PORT;
  }
  return EVFLAG_AUTO;
}

}  // namespace

log::Options log_options(const config::Config& c) {
  log::Options o;
  switch (c.log_type) {
    case config::LogType::kConsole:
      o.type = log::Type::kConsole;
      break;
    case config::LogType::kFile:
      o.type = log::Type::kFile;
      break;
    case config::LogType::kSyslog:
      o.type = log::Type::kSyslog;
      break;
  }
  o.level = c.log_level;
  o.path = c.log_path;
  o.append = c.log_mode == config::LogMode::kAppend;
  o.rotation_age = c.log_rotation_age;
  o.rotation_size = c.log_rotation_size;
  o.line_prefix = c.log_line_prefix;
  return o;
}

// The main process: the parts (endpoint, services, jobs, WAL supervisor, child table) and what
// joins them: signals, child exits, configuration changes and shutdown.
struct Server::Impl final : MainLoopControl {
  DaemonContext ctx;
  SharedSegment segment;
  struct ev_loop* loop = nullptr;
  std::optional<BaseDirLock> base_dir_lock;
  std::optional<PidFile> pid_file;
  ChildTable children{ctx};
  std::unique_ptr<ManagementEndpoint> endpoint;
  std::unique_ptr<TcpServices> services;
  std::unique_ptr<PeriodicJobs> jobs;
  WalSupervisor wal{0};
  ev_signal sig_hup{}, sig_usr1{}, sig_term{}, sig_int{}, sig_alrm{};
  // libev's default loop reaps children itself (waitpid in its own SIGCHLD handler), so exits
  // reach us through a child watcher, never through a SIGCHLD watcher of ours.
  ev_child child_watcher{};
  ev_timer watchdog{};
  bool shutting_down = false;
  bool running = false;  // run() has set up the timers
  int exit_code = 0;
  SystemdNotifier notifier;
  bool notify_failed = false;  // the first failure is a warning, later ones debug lines
  int status_streaming = -1;   // WAL receivers streaming in the last STATUS= sent

  explicit Impl(SharedSegment seg) : segment(std::move(seg)) {}

  // MainLoopControl.
  CommandResult reload() override { return reload_configuration(false); }
  CommandResult conf_set(const nlohmann::json& request) override;

  CommandResult reload_configuration(bool from_signal);
  void apply_config(std::shared_ptr<const config::Config> next);
  void on_signal(int signum);
  void child_exited(pid_t pid, int status);
  void reconcile_wal();
  void start_wal(size_t index);
  void begin_shutdown(const char* why);
  void finish_shutdown();
  void close_inherited(int keep);
  void notify(const std::string& message);
  std::string status_line(int streaming) const;
  int streaming_count() const;
  void update_status();
};

void Server::Impl::notify(const std::string& message) {
  if (auto r = notifier.send(message); !r) {
    if (!notify_failed) {
      log::warn("systemd notification: {}", r.error().message());
    } else {
      log::debug("systemd notification: {}", r.error().message());
    }
    notify_failed = true;
  }
}

int Server::Impl::streaming_count() const {
  int streaming = 0;
  for (size_t i = 0; i < ctx.shared->number_of_servers; ++i) {
    streaming += ctx.shared->servers[i].wal_streaming.load() ? 1 : 0;
  }
  return streaming;
}

// One line for `systemctl status`, from what the main process knows without asking anyone.
std::string Server::Impl::status_line(int streaming) const {
  size_t servers = ctx.shared->number_of_servers;
  return fmt::format("ready: {} server{}, WAL streaming on {}", servers, servers == 1 ? "" : "s",
                     streaming);
}

// Sends STATUS= when the number of streaming WAL receivers changed since the last one.
void Server::Impl::update_status() {
  if (!notifier.enabled() || shutting_down) {
    return;
  }
  int streaming = streaming_count();
  if (streaming != status_streaming) {
    status_streaming = streaming;
    notify("STATUS=" + status_line(streaming));
  }
}

void Server::Impl::close_inherited(int keep) {
  endpoint->close_inherited(keep);
  services->close_inherited(keep);
}

void Server::Impl::on_signal(int signum) {
  switch (signum) {
    case SIGHUP:
      log::info("SIGHUP: reloading configuration");
      reload_configuration(true);
      break;
    case SIGUSR1:
      // Services only: the configuration in memory is used as it is (files are not re-read).
      log::info("SIGUSR1: restarting the metrics and management services where changed");
      services->restart("SIGUSR1", false);
      break;
    default:
      begin_shutdown(signum == SIGINT ? "SIGINT" : signum == SIGALRM ? "SIGALRM" : "SIGTERM");
      break;
  }
}

void Server::Impl::start_wal(size_t index) {
  const config::ServerConfig& s = ctx.config->servers[index];
  auto now = WalSupervisor::Clock::now();
  pid_t pid =
      children.fork("wal/" + s.name, fmt::format("{}:{} slot {}", s.host, s.port, s.wal_slot), -1,
                    [this, index]() { return run_wal_receiver(ctx, index); });
  if (pid < 0) {
    wal.start_failed(index, now);
    return;
  }
  wal.started(index, pid, now);
  ctx.shared->servers[index].wal_pid.store(pid);
  log::debug("WAL receiver for {} started (pid {})", s.name, pid);
}

void Server::Impl::reconcile_wal() {
  const config::Config& c = *ctx.config;
  std::vector<WalSupervisor::View> views(std::min(c.servers.size(), wal.size()));
  for (size_t i = 0; i < views.size(); ++i) {
    views[i].streaming = ctx.shared->servers[i].wal_streaming.load();
    views[i].admin_offline = ctx.shared->servers[i].admin_offline();
    views[i].follow = c.servers[i].follow.empty() ? -1 : ctx.server_index(c.servers[i].follow);
  }
  for (const WalSupervisor::Action& a : wal.reconcile(WalSupervisor::Clock::now(), views)) {
    const config::ServerConfig& s = c.servers[a.index];
    if (a.kind == WalSupervisor::Action::Kind::kStop) {
      log::info("stopping the WAL receiver of {}: {}", s.name, a.why);
      ::kill(wal.pid(a.index), SIGTERM);
    } else {
      if (!s.follow.empty()) {
        log::info("server {} takes over WAL streaming from {}", s.name, s.follow);
      }
      start_wal(a.index);
    }
  }
}

void Server::Impl::child_exited(pid_t pid, int status) {
  ChildTable::Exit exit = children.reaped(pid);
  jobs->child_exited(pid);
  const bool remote_session = services->child_exited(pid, status) && exit.what == "remote";
  if (exit.stopped_by_us && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) {
    log::debug("child {} ({}) stopped", pid, exit.what);
  } else if (WIFSIGNALED(status)) {
    log::error("child {} ({}) was killed by signal {}", pid, exit.what, WTERMSIG(status));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && !remote_session) {
    // A remote session logged its own failure (one line per failed login).
    log::warn("child {} ({}) exited with code {}", pid, exit.what, WEXITSTATUS(status));
  } else {
    log::trace("child {} ({}) done", pid, exit.what);
  }
  if (int i = wal.index_of(pid); i >= 0) {
    ServerState& state = ctx.shared->servers[static_cast<size_t>(i)];
    state.wal_pid.store(0);
    state.wal_streaming.store(false);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (auto delay = wal.exited(static_cast<size_t>(i), WalSupervisor::Clock::now(), code)) {
      log::warn("WAL receiver of {} ended unexpectedly; restarting in {} s",
                ctx.config->servers[static_cast<size_t>(i)].name, delay->count());
    }
  }
  // A repository lock held by a dead child would block the server forever; a killed
  // operation also leaves its activity marks set.
  ctx.shared->release(pid);
}

void Server::Impl::apply_config(std::shared_ptr<const config::Config> next) {
  ctx.config = std::move(next);
  const config::Config& c = *ctx.config;
  // The supervisor compares these with what each receiver was started with.
  for (size_t i = 0; i < wal.size() && i < c.servers.size(); ++i) {
    wal.set_wanted(i, wal_settings(c, i));
  }
  if (auto r = log::configure(log_options(c)); !r) {
    log::error("logging: {}", r.error().message());
  }
  ctx.shared->log_level.store(static_cast<int>(c.log_level));
  if (running) {
    jobs->configuration_changed();
    services->restart("configuration change", true);
  }
}

CommandResult Server::Impl::reload_configuration(bool from_signal) {
  // systemd shows the unit as reloading until READY=1, which follows on every path.
  notify(reloading_message() + "\nSTATUS=reloading the configuration");
  status_streaming = streaming_count();
  ScopeExit ready([this] { notify("READY=1\nSTATUS=" + status_line(status_streaming)); });
  auto plan = plan_reload(ctx);
  if (!plan) {
    log::error("reload: {}; keeping the running configuration", plan.error().message());
    return CommandResult::failure(management::Family::kReload, management::Failure::kError,
                                  plan.error().message(), "reload");
  }
  if (!plan->restart_keys.empty()) {
    log::warn("reload: restart pgmoneta to apply: {}", fmt::join(plan->restart_keys, ", "));
  }
  apply_config(plan->config);
  // Passwords may have changed as well.
  if (auto v = load_vaults(ctx); !v) {
    log::error("reload: {}", v.error().message());
  }
  log::info("configuration reloaded from {}{}", ctx.paths.main, from_signal ? " (SIGHUP)" : "");
  jobs->run_probe();
  return CommandResult::success(reload_response(*plan));
}

// A setting that needs no restart applies at once; a changed port or TLS file re-binds its
// listener in apply_config (services->restart), once.
CommandResult Server::Impl::conf_set(const nlohmann::json& request) {
  ConfSetPlan plan = plan_conf_set(ctx, request);
  if (plan.apply) {
    apply_config(plan.apply);
  }
  return plan.result;
}

void Server::Impl::begin_shutdown(const char* why) {
  if (shutting_down) {
    return;
  }
  shutting_down = true;
  ctx.shared->shutting_down.store(true);
  log::info("shutting down: {}", why);
  notify(fmt::format("STOPPING=1\nSTATUS=shutting down: {}", why));
  ev_break(loop, EVBREAK_ALL);
  wal.shut_down();
}

void Server::Impl::finish_shutdown() {
  endpoint->close();
  services->close();
  jobs->stop();
  ev_timer_stop(loop, &watchdog);
  children.terminate_all(kChildShutdownGrace);
  if (pid_file) {
    pid_file->remove();
  }
  log::info("pgmoneta: shutdown complete");
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  log::count_lines_in(nullptr);  // the counters live in the segment unmapped below
  if (impl_ && impl_->endpoint) {
    impl_->endpoint->close();
  }
}

Result<std::unique_ptr<Server>> Server::create(ServerOptions options) {
  PGM_ASSIGN_OR_RETURN(SharedSegment segment, SharedSegment::create());
  auto impl = std::make_unique<Impl>(std::move(segment));
  Impl& s = *impl;
  s.ctx.paths = options.paths;
  s.notifier = std::move(options.notifier);
  s.ctx.config = options.loaded.config;
  s.ctx.shared = &s.segment.state();
  const config::Config& c = *s.ctx.config;

  if (c.servers.size() > kMaxServers) {
    return make_error(ErrorCode::kConfig, fmt::format("at most {} servers", kMaxServers));
  }
  s.ctx.shared->number_of_servers = c.servers.size();
  s.ctx.shared->start_epoch.store(static_cast<int64_t>(::time(nullptr)));
  s.ctx.shared->log_level.store(static_cast<int>(c.log_level));

  struct stat st {};
  if (::stat(c.unix_socket_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return make_error(
        ErrorCode::kConfig,
        fmt::format("unix_socket_dir {} does not exist or is not a directory", c.unix_socket_dir));
  }
  if (auto r = io::make_directories(c.base_dir, 0700); !r) {
    return tl::unexpected(r.error().with_context("base_dir"));
  }
  PGM_ASSIGN_OR_RETURN(BaseDirLock base_dir_lock, BaseDirLock::acquire(c.base_dir));
  s.base_dir_lock.emplace(std::move(base_dir_lock));
  s.children.record_in(c.base_dir);
  // What verify --start and archive runs killed with -9 left in the workspaces.
  restore::remove_dead_workspace_leftovers(c.workspace);
  for (const config::ServerConfig& server : c.servers) {
    if (!server.workspace.empty()) {
      restore::remove_dead_workspace_leftovers(server.workspace);
    }
  }
  // Hot-standby updates killed midway (their tablespaces are cleared by the next update).
  clear_hot_standby_leftovers(c);
  // The master key is optional: it is needed for vaults and encrypted management frames.
  if (auto key = crypto::load_master_key(); key) {
    s.ctx.master_key = std::make_shared<const crypto::MasterKey>(std::move(*key));
  } else if (key.error().code() != ErrorCode::kNotFound) {
    return tl::unexpected(key.error());
  }
  PGM_TRY(load_vaults(s.ctx));

  unsigned int backend = libev_backend(c.libev);
  s.loop = ev_default_loop(backend);
  if (s.loop == nullptr && backend != EVFLAG_AUTO) {
    log::warn("libev backend not available here; using the default");
    s.loop = ev_default_loop(EVFLAG_AUTO);
  }
  if (s.loop == nullptr) {
    return make_error(ErrorCode::kInternal, "cannot initialise libev");
  }
  ev_set_userdata(s.loop, impl.get());

  PGM_ASSIGN_OR_RETURN(PidFile pid_file, PidFile::create(c.pidfile));
  s.pid_file.emplace(std::move(pid_file));
  s.endpoint = std::make_unique<ManagementEndpoint>(s.loop, s.ctx, s.children, s, [&s] {
    s.begin_shutdown("shutdown requested by pgmoneta-cli");
  });
  s.services = std::make_unique<TcpServices>(s.loop, s.ctx, s.children);
  s.jobs = std::make_unique<PeriodicJobs>(s.loop, s.ctx, s.children);
  s.children.set_close_inherited([&s](int keep) { s.close_inherited(keep); });
  // On failure the PID file and the socket go with `impl`.
  PGM_TRY(s.endpoint->open());
  PGM_TRY(s.services->open());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::run() {
  Impl& s = *impl_;
  struct ev_loop* loop = s.loop;
  ::signal(SIGPIPE, SIG_IGN);
  // Every process of the daemon counts its log lines in the segment (pgmoneta_logging_*);
  // ~Server stops it before the segment goes.
  static_assert(sizeof(SharedState::log_lines) / sizeof(SharedState::log_lines[0]) ==
                log::kLineCounterSlots);
  log::count_lines_in(s.ctx.shared->log_lines);

  s.endpoint->start();
  auto on_signal = [](struct ev_loop* l, ev_signal* w, int /*revents*/) {
    static_cast<Impl*>(ev_userdata(l))->on_signal(w->signum);
  };
  ev_signal* signals[] = {&s.sig_hup, &s.sig_usr1, &s.sig_term, &s.sig_int, &s.sig_alrm};
  int numbers[] = {SIGHUP, SIGUSR1, SIGTERM, SIGINT, SIGALRM};
  for (size_t i = 0; i < std::size(signals); ++i) {
    ev_signal_init(signals[i], on_signal, numbers[i]);
    ev_signal_start(loop, signals[i]);
  }
  ev_child_init(
      &s.child_watcher,
      [](struct ev_loop* l, ev_child* w, int /*revents*/) {
        static_cast<Impl*>(ev_userdata(l))->child_exited(w->rpid, w->rstatus);
      },
      0, 0);  // pid 0: every child
  ev_child_start(loop, &s.child_watcher);
  s.wal = WalSupervisor(s.ctx.config->servers.size());
  for (size_t i = 0; i < s.wal.size(); ++i) {
    s.wal.set_wanted(i, wal_settings(*s.ctx.config, i));
  }
  ev_timer_init(
      &s.watchdog,
      [](struct ev_loop* l, ev_timer* /*w*/, int /*revents*/) {
        Impl* impl = static_cast<Impl*>(ev_userdata(l));
        impl->reconcile_wal();
        impl->services->keep_metrics_running();  // one that died is started again
        impl->update_status();
      },
      kWatchdogInterval, kWatchdogInterval);
  ev_timer_start(loop, &s.watchdog);
  s.jobs->start();
  s.running = true;

  const config::Config& c = *s.ctx.config;
  log::info("pgmoneta {}: started (pid {}, socket {}, {} server{})", kVersion, ::getpid(),
            s.endpoint->path(), c.servers.size(), c.servers.size() == 1 ? "" : "s");
  s.jobs->run_probe();
  s.reconcile_wal();
  s.services->keep_metrics_running();
  // The socket has been listening since create() and the TCP services are bound: a command
  // sent now is answered as soon as the loop runs, just below.
  s.status_streaming = s.streaming_count();
  s.notify("READY=1\nSTATUS=" + s.status_line(s.status_streaming));

  ev_run(loop, 0);
  s.finish_shutdown();
  return s.exit_code;
}

}  // namespace pgm::daemon
