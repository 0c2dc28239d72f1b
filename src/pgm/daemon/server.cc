#include "pgm/daemon/server.h"

#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "pgm/core/unique_fd.h"
#include "pgm/daemon/backup_commands.h"
#include "pgm/daemon/commands.h"
#include "pgm/daemon/metrics_service.h"
#include "pgm/daemon/offsite_commands.h"
#include "pgm/daemon/probe.h"
#include "pgm/daemon/process_title.h"
#include "pgm/daemon/remote_session.h"
#include "pgm/daemon/verify_commands.h"
#include "pgm/daemon/wal_receiver.h"
#include "pgm/http/server.h"
#include "pgm/io/file.h"
#include "pgm/management/document.h"
#include "pgm/management/frame.h"
#include "pgm/management/protocol.h"
#include "pgm/net/tls.h"
#include "pgm/storage/configured.h"
#include "pgm/version.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
using nlohmann::json;

namespace {

// Requests are small JSON documents; anything larger is refused before it is buffered.
constexpr uint32_t kMaxRequestFrame = 1u << 20;
// Connections beyond this are closed at once so a flood cannot exhaust descriptors.
constexpr size_t kMaxConnections = 512;
constexpr double kProbeInterval = 60.0;
constexpr std::chrono::seconds kChildShutdownGrace{10};
// The WAL watchdog: how often receivers are reconciled with what should run.
constexpr double kWalWatchdogInterval = 1.0;
// A receiver that died is restarted after this, doubling while it keeps dying, up to the max.
constexpr std::chrono::seconds kWalRestartMin{1};
constexpr std::chrono::seconds kWalRestartMax{60};
// A receiver that ran this long before dying starts again with the shortest delay.
constexpr std::chrono::seconds kWalHealthyRun{60};
// A `follow` server takes over after the followed one stopped streaming for this long.
constexpr std::chrono::seconds kFollowGrace{15};
// Seconds between off-site passes (WAL shipping, upload retries; offsite.h). Each engine
// backs off on its own after failures.
constexpr double kOffsiteInterval = 5.0;

// Remote management sessions at once (each a forked child bounded by authentication_timeout
// until it has logged in); further connections are closed at once.
constexpr size_t kMaxRemoteSessions = 64;
// A metrics process that died is started again after this.
constexpr std::chrono::seconds kMetricsRestartDelay{2};

std::string socket_path(const config::Config& c) { return c.unix_socket_dir + "/.s.pgmoneta"; }

// A forked child must not keep the main process's signal plumbing: libev may have blocked
// signals (signalfd) and installed handlers that write into the main loop's pipe.
void reset_signals_in_child() {
  sigset_t all;
  sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig : {SIGHUP, SIGUSR1, SIGTERM, SIGINT, SIGALRM, SIGCHLD, SIGPIPE}) {
    ::signal(sig, SIG_DFL);
  }
  ::signal(SIGPIPE, SIG_IGN);
}

// Blocking write of a whole buffer with a deadline (children only).
bool write_all_blocking(int fd, const std::vector<uint8_t>& data, std::chrono::seconds timeout) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
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

struct Connection;

// The main process's view of one server's WAL receiver.
struct WalChild {
  using Clock = std::chrono::steady_clock;
  pid_t pid = 0;
  bool stopping = false;           // SIGTERM sent by us
  Clock::time_point next_start{};  // not before this
  Clock::time_point started{};
  std::chrono::seconds delay = kWalRestartMin;
  Clock::time_point quiet_since{};  // not streaming since (for `follow`), {} while streaming
  std::string settings;             // wal_settings() it was started with
  std::string wanted;               // wal_settings() of the running configuration
};

struct Server::Impl {
  DaemonContext ctx;
  SharedSegment segment;
  struct ev_loop* loop = nullptr;
  UniqueFd listen_fd;
  std::string listen_path;
  std::string pid_path;
  bool pid_written = false;
  ev_io accept_watcher{};
  ev_signal sig_hup{}, sig_usr1{}, sig_term{}, sig_int{}, sig_alrm{};
  // libev's default loop reaps children itself (waitpid in its own SIGCHLD handler), so exits
  // reach us through a child watcher, never through a SIGCHLD watcher of ours.
  ev_child child_watcher{};
  ev_timer probe_timer{};
  ev_timer wal_timer{};
  ev_timer retention_timer{};
  double retention_interval = 0;  // seconds the timer runs with
  pid_t retention_child = 0;
  ev_timer offsite_timer{};
  pid_t offsite_child = 0;
  ev_timer verification_timer{};
  double verification_interval = 0;  // seconds the timer runs with, 0 = off
  pid_t verification_child = 0;
  std::vector<WalChild> wal;  // one per configured server
  // Remote management on the `management` TCP port (remote_session.h).
  UniqueFd management_fd;
  ev_io management_watcher{};
  std::string management_settings;  // what the open listener was made from, "" when closed
  std::shared_ptr<const net::TlsContext> management_tls;
  std::set<pid_t> remote_sessions;
  std::set<pid_t> stopped;  // children we sent SIGTERM to: their end by it is no error
  // Prometheus on the `metrics` port: the main process binds, a child serves
  // (metrics_service.h), so no HTTP client can ever hold up this loop.
  UniqueFd metrics_fd;
  std::string metrics_settings;  // port and TLS files the running child was started with
  pid_t metrics_child = 0;
  std::chrono::steady_clock::time_point metrics_next_start{};
  std::map<int, std::unique_ptr<Connection>> connections;
  std::map<pid_t, std::string> children;  // pid -> what it does
  pid_t probe_child = 0;
  bool shutting_down = false;
  int exit_code = 0;

  explicit Impl(SharedSegment seg) : segment(std::move(seg)) {}

  Result<void> open_listener();
  void close_listener();
  Result<void> open_management_tcp();
  void close_management_tcp();
  void on_management_accept();
  Result<void> open_metrics();
  void start_metrics();
  void stop_metrics();
  void restart_services(const char* why, bool config_changed);
  void on_accept();
  void close_connection(int fd);
  void dispatch(Connection& conn, const json& doc);
  void reply(Connection& conn, const json& request_doc, const CommandResult& result,
             std::chrono::steady_clock::time_point started, AfterReply after);
  void fork_command(Connection& conn, const json& doc, int32_t command);
  void fork_job(pid_t& slot, const char* title, const std::function<void()>& job);
  void start_probe();
  void reconcile_wal();
  void start_wal(size_t index);
  void stop_wal(size_t index, const char* why);
  void wal_child_exited(size_t index, int status);
  void close_inherited_descriptors();
  void start_retention();
  void arm_retention_timer();
  void start_offsite();
  void start_verification();
  void arm_verification_timer();
  void child_exited(pid_t pid, int status);
  CommandResult reload(bool from_signal);
  CommandResult conf_set(const json& request);
  void apply_config(std::shared_ptr<const config::Config> next);
  void begin_shutdown(const char* why);
  void finish_shutdown();
  Result<void> write_pid_file();
  Result<void> load_vaults();
};

// One management client: read one frame, answer one frame, close (reference §4.1).
struct Connection {
  Server::Impl* owner = nullptr;
  UniqueFd fd;
  ev_io io{};
  ev_timer timer{};
  mgmt::FrameReader reader{kMaxRequestFrame};
  std::vector<uint8_t> out;
  size_t out_off = 0;
  AfterReply after = AfterReply::kNothing;
  bool writing = false;
  uint8_t compression = 0;
  uint8_t encryption = 0;
};

namespace {

Server::Impl* impl_of(struct ev_loop* loop) {
  return static_cast<Server::Impl*>(ev_userdata(loop));
}

void on_connection_io(struct ev_loop* loop, ev_io* w, int /*revents*/);

void on_connection_timeout(struct ev_loop* loop, ev_timer* w, int /*revents*/) {
  auto* conn = static_cast<Connection*>(w->data);
  log::debug("management connection timed out");
  impl_of(loop)->close_connection(conn->fd.get());
}

void start_writing(Connection& conn, std::vector<uint8_t> frame, AfterReply after) {
  conn.out = std::move(frame);
  conn.out_off = 0;
  conn.after = after;
  conn.writing = true;
  ev_io_stop(conn.owner->loop, &conn.io);
  ev_io_set(&conn.io, conn.fd.get(), EV_WRITE);
  ev_io_start(conn.owner->loop, &conn.io);
}

void on_connection_io(struct ev_loop* loop, ev_io* w, int /*revents*/) {
  auto* conn = static_cast<Connection*>(w->data);
  Server::Impl* impl = impl_of(loop);
  int fd = conn->fd.get();
  if (conn->writing) {
    while (conn->out_off < conn->out.size()) {
      ssize_t n = ::send(fd, conn->out.data() + conn->out_off, conn->out.size() - conn->out_off,
                         MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          return;
        }
        if (errno == EINTR) {
          continue;
        }
        break;
      }
      conn->out_off += static_cast<size_t>(n);
    }
    AfterReply after = conn->after;
    impl->close_connection(fd);
    if (after == AfterReply::kShutdown) {
      impl->begin_shutdown("shutdown requested by pgmoneta-cli");
    }
    return;
  }
  uint8_t buf[8192];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      }
      if (errno == EINTR) {
        continue;
      }
      impl->close_connection(fd);
      return;
    }
    if (n == 0) {
      // Peer closed before sending a whole frame.
      impl->close_connection(fd);
      return;
    }
    auto state = conn->reader.feed(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
    if (state == mgmt::FrameReader::State::kNeedMore) {
      continue;
    }
    if (state == mgmt::FrameReader::State::kError) {
      log::debug("management: bad frame: {}", conn->reader.error());
      CommandResult bad = CommandResult::failure(
          mgmt::kErrorBadPayload, fmt::format("bad frame: {}", conn->reader.error()));
      impl->reply(*conn, json::object(), bad, std::chrono::steady_clock::now(),
                  AfterReply::kNothing);
      return;
    }
    const auto& header = conn->reader.header();
    conn->compression = header.compression;
    conn->encryption = header.encryption;
    auto doc = mgmt::decode_payload(header.compression, header.encryption, conn->reader.payload(),
                                    impl->ctx.master_key.get());
    if (!doc) {
      log::debug("management: bad payload: {}", doc.error().message());
      // Answer in plain JSON: we could not understand their compression/encryption.
      conn->compression = 0;
      conn->encryption = 0;
      impl->reply(*conn, json::object(),
                  CommandResult::failure(mgmt::kErrorBadPayload, doc.error().message()),
                  std::chrono::steady_clock::now(), AfterReply::kNothing);
      return;
    }
    // Request documents come from the network: a nlohmann type error on a field we missed
    // must cost this request, not the daemon.
    try {
      impl->dispatch(*conn, *doc);
    } catch (const std::exception& e) {
      log::warn("management: bad request: {}", e.what());
      impl->reply(
          *conn, json::object(),
          CommandResult::failure(mgmt::kErrorBadPayload, fmt::format("bad request: {}", e.what())),
          std::chrono::steady_clock::now(), AfterReply::kNothing);
    }
    return;
  }
}

void on_accept_cb(struct ev_loop* loop, ev_io* /*w*/, int /*revents*/) {
  impl_of(loop)->on_accept();
}

void on_management_accept_cb(struct ev_loop* loop, ev_io* /*w*/, int /*revents*/) {
  impl_of(loop)->on_management_accept();
}

// What the remote-management listener is made from; a change means closing and reopening it.
std::string management_settings_of(const config::Config& c) {
  if (c.management <= 0) {
    return "";
  }
  return fmt::format("{}|{}|{}|{}|{}|{}|{}", c.host, c.management, c.backlog, c.tls,
                     c.tls_cert_file, c.tls_key_file, c.tls_ca_file);
}

// The metrics socket's address part and the rest a running metrics process depends on.
std::string metrics_bind_of(const config::Config& c) {
  if (c.metrics <= 0) {
    return "";
  }
  return fmt::format("{}|{}|{}", c.host, c.metrics, c.backlog);
}

void on_signal(struct ev_loop* loop, ev_signal* w, int /*revents*/) {
  Server::Impl* impl = impl_of(loop);
  switch (w->signum) {
    case SIGHUP:
      log::info("SIGHUP: reloading configuration");
      impl->reload(true);
      break;
    case SIGUSR1:
      // Services only: the configuration in memory is used as it is (files are not re-read).
      log::info("SIGUSR1: restarting the metrics and management services where changed");
      impl->restart_services("SIGUSR1", false);
      break;
    default:
      impl->begin_shutdown(w->signum == SIGINT    ? "SIGINT"
                           : w->signum == SIGALRM ? "SIGALRM"
                                                  : "SIGTERM");
      break;
  }
}

void on_probe_timer(struct ev_loop* loop, ev_timer* /*w*/, int /*revents*/) {
  impl_of(loop)->start_probe();
}

void on_child(struct ev_loop* loop, ev_child* w, int /*revents*/) {
  impl_of(loop)->child_exited(w->rpid, w->rstatus);
}

void on_retention_timer(struct ev_loop* loop, ev_timer* /*w*/, int /*revents*/) {
  impl_of(loop)->start_retention();
}

void on_offsite_timer(struct ev_loop* loop, ev_timer* /*w*/, int /*revents*/) {
  impl_of(loop)->start_offsite();
}

void on_verification_timer(struct ev_loop* loop, ev_timer* /*w*/, int /*revents*/) {
  impl_of(loop)->start_verification();
}

void on_wal_timer(struct ev_loop* loop, ev_timer* /*w*/, int /*revents*/) {
  Server::Impl* impl = impl_of(loop);
  impl->reconcile_wal();
  // The metrics process is watched by the same timer: one that died is started again.
  if (impl->metrics_child == 0 && std::chrono::steady_clock::now() >= impl->metrics_next_start) {
    impl->start_metrics();
  }
}

}  // namespace

Result<void> Server::Impl::write_pid_file() {
  const std::string& path = pid_path;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd && errno == EEXIST) {
    // A PID file from a crashed daemon must not block a restart; a live one must.
    auto content = io::read_file(path);
    pid_t pid = content ? static_cast<pid_t>(std::atoi(content->c_str())) : 0;
    if (pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM)) {
      return make_error(ErrorCode::kUnavailable,
                        fmt::format("PID file {} exists and process {} is running: is pgmoneta "
                                    "already running?",
                                    path, pid));
    }
    log::warn("removing stale PID file {} (process {} is gone)", path, pid);
    ::unlink(path.c_str());
    fd.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  }
  if (!fd) {
    return make_errno_error(fmt::format("create PID file {}", path), errno);
  }
  std::string text = fmt::format("{}\n", ::getpid());
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return make_errno_error(fmt::format("write PID file {}", path), errno);
  }
  pid_written = true;
  return {};
}

Result<void> Server::Impl::open_listener() {
  const config::Config& c = *ctx.config;
  listen_path = socket_path(c);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (listen_path.size() >= sizeof(addr.sun_path)) {
    return make_error(
        ErrorCode::kConfig,
        fmt::format("unix_socket_dir {} is too long for a socket path", c.unix_socket_dir));
  }
  std::memcpy(addr.sun_path, listen_path.c_str(), listen_path.size() + 1);

  // A socket file left by a crashed daemon is removed; one that answers is a running daemon.
  struct stat st {};
  if (::lstat(listen_path.c_str(), &st) == 0) {
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return make_error(ErrorCode::kUnavailable,
                        fmt::format("{} is in use: is pgmoneta already running?", listen_path));
    }
    ::unlink(listen_path.c_str());
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    return make_errno_error("socket", errno);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return make_errno_error(fmt::format("bind {}", listen_path), errno);
  }
  ::chmod(listen_path.c_str(), 0700);
  if (::listen(fd.get(), std::max(c.backlog, 16)) != 0) {
    return make_errno_error(fmt::format("listen {}", listen_path), errno);
  }
  listen_fd = std::move(fd);
  return {};
}

void Server::Impl::close_listener() {
  if (listen_fd) {
    ev_io_stop(loop, &accept_watcher);
    listen_fd.reset();
    ::unlink(listen_path.c_str());
  }
}

Result<void> Server::Impl::open_management_tcp() {
  const config::Config& c = *ctx.config;
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
  auto fd = http::listen_tcp(c.host, c.management, std::max(c.backlog, 16));
  if (!fd) {
    return tl::unexpected(fd.error().with_context("management port"));
  }
  management_fd = std::move(*fd);
  management_tls = std::move(tls);
  management_settings = management_settings_of(c);
  ev_io_init(&management_watcher, on_management_accept_cb, management_fd.get(), EV_READ);
  ev_io_start(loop, &management_watcher);
  log::info("remote management listening on {}:{}{}", c.host, c.management,
            management_tls ? " (TLS)" : "");
  return {};
}

void Server::Impl::close_management_tcp() {
  if (management_fd) {
    ev_io_stop(loop, &management_watcher);
    management_fd.reset();
    log::info("remote management listener closed");
  }
  management_tls.reset();
  management_settings.clear();
}

void Server::Impl::on_management_accept() {
  for (;;) {
    UniqueFd fd(::accept4(management_fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        log::warn("accept on the management port: {}",
                  std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
      }
      return;
    }
    if (remote_sessions.size() >= kMaxRemoteSessions || shutting_down) {
      log::debug("remote management: {} sessions already; connection refused",
                 remote_sessions.size());
      continue;  // closed by UniqueFd
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      log::error("fork for remote management: {}",
                 std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
      continue;
    }
    if (pid == 0) {
      reset_signals_in_child();
      set_process_title(ctx.config->update_process_title, "remote");
      close_inherited_descriptors();
      ::_exit(run_remote_session(ctx, std::move(fd), management_tls.get()));
    }
    remote_sessions.insert(pid);
    children.emplace(pid, "remote");
  }
}

Result<void> Server::Impl::open_metrics() {
  const config::Config& c = *ctx.config;
  if (c.metrics <= 0) {
    return {};
  }
  auto fd = http::listen_tcp(c.host, c.metrics, std::max(c.backlog, 16));
  if (!fd) {
    return tl::unexpected(fd.error().with_context("metrics port"));
  }
  metrics_fd = std::move(*fd);
  metrics_settings = metrics_bind_of(c);
  log::info("metrics listening on {}:{}", c.host, c.metrics);
  return {};
}

void Server::Impl::start_metrics() {
  if (!metrics_fd || metrics_child != 0 || shutting_down) {
    return;
  }
  metrics_next_start = {};
  pid_t pid = ::fork();
  if (pid < 0) {
    log::error("fork for metrics: {}", std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
    metrics_next_start = std::chrono::steady_clock::now() + kMetricsRestartDelay;
    return;
  }
  if (pid == 0) {
    reset_signals_in_child();
    set_process_title(ctx.config->update_process_title, "metrics");
    UniqueFd fd = std::move(metrics_fd);
    close_inherited_descriptors();
    ::_exit(run_metrics_service(ctx, std::move(fd)));
  }
  metrics_child = pid;
  children.emplace(pid, "metrics");
}

void Server::Impl::stop_metrics() {
  if (metrics_child != 0) {
    ::kill(metrics_child, SIGTERM);
    stopped.insert(metrics_child);
    metrics_child = 0;  // still in `children` until reaped
  }
}

// Brings the TCP services in line with the configuration in memory: a listener whose address,
// port or TLS settings changed is closed and opened again; the metrics process is restarted
// when its socket changed or, with config_changed, because it serves a copy of the
// configuration. Failures are logged; the service then stays off until the next change.
void Server::Impl::restart_services(const char* why, bool config_changed) {
  const config::Config& c = *ctx.config;
  if (management_settings_of(c) != management_settings) {
    close_management_tcp();
    if (auto r = open_management_tcp(); !r) {
      log::error("{}: {}", why, r.error().message());
    }
  }
  bool rebind = metrics_bind_of(c) != metrics_settings;
  if (rebind || config_changed) {
    stop_metrics();
  }
  if (rebind) {
    if (metrics_fd) {
      metrics_fd.reset();
      log::info("metrics listener closed");
    }
    metrics_settings.clear();
    if (auto r = open_metrics(); !r) {
      log::error("{}: {}", why, r.error().message());
    }
  }
  start_metrics();
}

void Server::Impl::on_accept() {
  for (;;) {
    UniqueFd fd(::accept4(listen_fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        log::warn("accept on {}: {}", listen_path,
                  std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
      }
      return;
    }
    if (connections.size() >= kMaxConnections || shutting_down) {
      continue;  // closed by UniqueFd: too many clients at once
    }
    auto conn = std::make_unique<Connection>();
    conn->owner = this;
    int raw = fd.get();
    conn->fd = std::move(fd);
    ev_io_init(&conn->io, on_connection_io, raw, EV_READ);
    conn->io.data = conn.get();
    double timeout =
        static_cast<double>(std::max<int64_t>(1, ctx.config->blocking_timeout.count()));
    ev_timer_init(&conn->timer, on_connection_timeout, timeout, 0.0);
    conn->timer.data = conn.get();
    ev_io_start(loop, &conn->io);
    ev_timer_start(loop, &conn->timer);
    connections.emplace(raw, std::move(conn));
  }
}

void Server::Impl::close_connection(int fd) {
  auto it = connections.find(fd);
  if (it == connections.end()) {
    return;
  }
  ev_io_stop(loop, &it->second->io);
  ev_timer_stop(loop, &it->second->timer);
  connections.erase(it);  // closes the descriptor
}

void Server::Impl::reply(Connection& conn, const json& request_doc, const CommandResult& result,
                         std::chrono::steady_clock::time_point started, AfterReply after) {
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  json doc = result.ok ? mgmt::make_success(request_doc, result.response, elapsed)
                       : mgmt::make_failure(request_doc, result.error, result.workflow, {},
                                            result.message);
  auto frame =
      mgmt::encode_frame(doc, static_cast<compress::Algorithm>(conn.compression),
                         static_cast<crypto::AesMode>(conn.encryption), ctx.master_key.get());
  if (!frame) {
    log::warn("management: cannot encode response: {}", frame.error().message());
    close_connection(conn.fd.get());
    return;
  }
  start_writing(conn, std::move(*frame), after);
}

void Server::Impl::dispatch(Connection& conn, const json& doc) {
  auto started = std::chrono::steady_clock::now();
  auto request = mgmt::parse_request(doc);
  if (!request) {
    reply(conn, doc, CommandResult::failure(mgmt::kErrorBadPayload, request.error().message()),
          started, AfterReply::kNothing);
    return;
  }
  int32_t command = request->command;
  const json& req = request->request;
  log::debug("management: {} ({})", command_name(command), command);
  switch (placement_of(command)) {
    case Placement::kUnavailable:
      reply(conn, doc, unavailable(command), started, AfterReply::kNothing);
      return;
    case Placement::kForked:
      fork_command(conn, doc, command);
      return;
    case Placement::kInline:
      break;
  }
  switch (static_cast<mgmt::Command>(command)) {
    case mgmt::Command::kPing:
      reply(conn, doc, CommandResult::success(json::object()), started, AfterReply::kNothing);
      return;
    case mgmt::Command::kShutdown:
      reply(conn, doc, CommandResult::success(json::object()), started, AfterReply::kShutdown);
      return;
    case mgmt::Command::kConfLs:
      reply(conn, doc, CommandResult::success(conf_ls_response(ctx)), started,
            AfterReply::kNothing);
      return;
    case mgmt::Command::kConfGet:
      reply(conn, doc, CommandResult::success(config::to_json(*ctx.config)), started,
            AfterReply::kNothing);
      return;
    case mgmt::Command::kConfSet:
      reply(conn, doc, conf_set(req), started, AfterReply::kNothing);
      return;
    case mgmt::Command::kReload:
      reply(conn, doc, reload(false), started, AfterReply::kNothing);
      return;
    case mgmt::Command::kReset:
      // clear prometheus: the operation counters go back to zero and the metrics process
      // drops its cached answers.
      for (size_t i = 0; i < ctx.config->servers.size(); ++i) {
        ctx.shared->servers[i].operation_count.store(0);
        ctx.shared->servers[i].failed_operation_count.store(0);
      }
      ctx.shared->metrics_counters.reset(static_cast<int64_t>(::time(nullptr)));
      ctx.shared->metrics_generation.fetch_add(1);  // the metrics process drops its cache
      reply(conn, doc, CommandResult::success(json::object()), started, AfterReply::kNothing);
      return;
    default:
      reply(conn, doc, unavailable(command), started, AfterReply::kNothing);
      return;
  }
}

void Server::Impl::fork_command(Connection& conn, const json& doc, int32_t command) {
  auto started = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) {
    log::error("fork for {}: {}", command_name(command),
               std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
    reply(conn, doc,
          CommandResult::failure(mgmt::kErrorAllocation, "the daemon could not fork a worker"),
          started, AfterReply::kNothing);
    return;
  }
  if (pid == 0) {
    reset_signals_in_child();
    set_process_title(ctx.config->update_process_title, command_name(command));
    int fd = conn.fd.get();
    // Only this connection's descriptor stays open in the child.
    listen_fd.reset();
    management_fd.reset();
    metrics_fd.reset();
    for (auto& [other_fd, other] : connections) {
      if (other_fd != fd) {
        other->fd.reset();
      }
    }
    json request =
        doc.contains("Request") && doc["Request"].is_object() ? doc["Request"] : json::object();
    CommandResult result;
    try {
      result = run_forked(ctx, command, request);
    } catch (const std::exception& e) {
      result =
          CommandResult::failure(mgmt::kErrorBadPayload, fmt::format("bad request: {}", e.what()));
    }
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    json response =
        result.ok ? mgmt::make_success(doc, result.response, elapsed)
                  : mgmt::make_failure(doc, result.error, result.workflow, {}, result.message);
    if (!result.ok && result.response.is_object()) {
      // A failure may still carry a Response (verify's Failed list): merged in.
      for (const auto& [k, v] : result.response.items()) {
        response["Response"][k] = v;
      }
    }
    auto frame =
        mgmt::encode_frame(response, static_cast<compress::Algorithm>(conn.compression),
                           static_cast<crypto::AesMode>(conn.encryption), ctx.master_key.get());
    int code = 0;
    if (!frame || !write_all_blocking(fd, *frame, std::chrono::seconds(30))) {
      code = 1;
    }
    ::_exit(code);
  }
  children.emplace(pid, command_name(command));
  close_connection(conn.fd.get());
}

// Forks a periodic job (probe, retention, offsite, verification): one at a time each, none
// while shutting down. `slot` holds its pid until child_exited clears it.
void Server::Impl::fork_job(pid_t& slot, const char* title, const std::function<void()>& job) {
  if (slot != 0 || shutting_down || ctx.config->servers.empty()) {
    return;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    log::error("fork for {}: {}", title, std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
    return;
  }
  if (pid == 0) {
    reset_signals_in_child();
    set_process_title(ctx.config->update_process_title, title);
    close_inherited_descriptors();
    job();
    ::_exit(0);
  }
  slot = pid;
  children.emplace(pid, title);
}

void Server::Impl::start_probe() {
  fork_job(probe_child, "probe", [this] { probe_all_servers(ctx); });
}

void Server::Impl::start_retention() {
  fork_job(retention_child, "retention",
           [this] { run_retention(ctx, std::chrono::system_clock::now()); });
}

// The off-site pass (offsite.h): ships new WAL and retries uploads while a remote engine is
// enabled; one at a time.
void Server::Impl::start_offsite() {
  if (storage::remote_engines(*ctx.config).empty()) {
    return;
  }
  fork_job(offsite_child, "offsite", [this] { run_offsite(ctx); });
}

// (Re)starts the retention timer when retention_interval changed.
void Server::Impl::arm_retention_timer() {
  auto interval = static_cast<double>(ctx.config->retention_interval.count());
  if (interval <= 0) {
    interval = 300;
  }
  if (interval == retention_interval && ev_is_active(&retention_timer)) {
    return;
  }
  retention_interval = interval;
  ev_timer_stop(loop, &retention_timer);
  ev_timer_set(&retention_timer, interval, interval);
  ev_timer_start(loop, &retention_timer);
}

void Server::Impl::start_verification() {
  fork_job(verification_child, "verification", [this] { run_verification(ctx); });
}

// (Re)starts the verification timer when Config::verification changed; 0 stops it. The first
// pass comes one interval after start-up, never at start-up (pgmoneta's start-up pass held the
// repository lock even with verification = 0, reference §14.2).
void Server::Impl::arm_verification_timer() {
  auto interval = static_cast<double>(ctx.config->verification.count());
  if (interval <= 0) {
    verification_interval = 0;
    ev_timer_stop(loop, &verification_timer);
    return;
  }
  if (interval == verification_interval && ev_is_active(&verification_timer)) {
    return;
  }
  verification_interval = interval;
  ev_timer_stop(loop, &verification_timer);
  ev_timer_set(&verification_timer, interval, interval);
  ev_timer_start(loop, &verification_timer);
}

void Server::Impl::close_inherited_descriptors() {
  listen_fd.reset();
  management_fd.reset();
  metrics_fd.reset();
  for (auto& [fd, c] : connections) {
    c->fd.reset();
  }
}

void Server::Impl::start_wal(size_t index) {
  const config::ServerConfig& s = ctx.config->servers[index];
  WalChild& w = wal[index];
  pid_t pid = ::fork();
  if (pid < 0) {
    log::error("fork for the WAL receiver of {}: {}", s.name,
               std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
    w.next_start = WalChild::Clock::now() + w.delay;
    return;
  }
  if (pid == 0) {
    reset_signals_in_child();
    set_process_title(ctx.config->update_process_title, "wal/" + s.name,
                      fmt::format("{}:{} slot {}", s.host, s.port, s.wal_slot));
    close_inherited_descriptors();
    ::_exit(run_wal_receiver(ctx, index));
  }
  w.pid = pid;
  w.stopping = false;
  w.started = WalChild::Clock::now();
  w.settings = w.wanted;
  ctx.shared->servers[index].wal_pid.store(pid);
  children.emplace(pid, "wal/" + s.name);
  log::debug("WAL receiver for {} started (pid {})", s.name, pid);
}

void Server::Impl::stop_wal(size_t index, const char* why) {
  WalChild& w = wal[index];
  if (w.pid == 0 || w.stopping) {
    return;
  }
  log::info("stopping the WAL receiver of {}: {}", ctx.config->servers[index].name, why);
  w.stopping = true;
  ::kill(w.pid, SIGTERM);
}

void Server::Impl::wal_child_exited(size_t index, int status) {
  WalChild& w = wal[index];
  ServerState& state = ctx.shared->servers[index];
  state.wal_pid.store(0);
  state.wal_streaming.store(false);
  auto now = WalChild::Clock::now();
  bool requested = w.stopping;
  w.pid = 0;
  w.stopping = false;
  if (requested) {
    w.next_start = now;  // restarts at once if it should still run (settings changed)
    w.delay = kWalRestartMin;
    return;
  }
  // Died on its own: the watchdog restarts it, later each time it keeps dying.
  if (now - w.started >= kWalHealthyRun) {
    w.delay = kWalRestartMin;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
    w.delay = kWalRestartMax;  // settings that cannot work: retry rarely (or after a reload)
  }
  w.next_start = now + w.delay;
  log::warn("WAL receiver of {} ended unexpectedly; restarting in {} s",
            ctx.config->servers[index].name, w.delay.count());
  w.delay = std::min(w.delay * 2, std::chrono::seconds(kWalRestartMax));
}

void Server::Impl::reconcile_wal() {
  const config::Config& c = *ctx.config;
  auto now = WalChild::Clock::now();
  for (size_t i = 0; i < c.servers.size() && i < wal.size(); ++i) {
    if (ctx.shared->servers[i].wal_streaming.load()) {
      wal[i].quiet_since = {};
    } else if (wal[i].quiet_since == WalChild::Clock::time_point{}) {
      wal[i].quiet_since = now;
    }
  }
  for (size_t i = 0; i < c.servers.size() && i < wal.size(); ++i) {
    const config::ServerConfig& s = c.servers[i];
    WalChild& w = wal[i];
    bool wanted = !shutting_down && !ctx.shared->servers[i].admin_offline();
    const char* why = "the server was set offline";
    if (wanted && !s.follow.empty()) {
      // A follower streams only while the server it follows does not.
      int j = ctx.server_index(s.follow);
      if (j >= 0 && static_cast<size_t>(j) != i) {
        const WalChild& f = wal[static_cast<size_t>(j)];
        bool followed_quiet =
            f.quiet_since != WalChild::Clock::time_point{} && now - f.quiet_since >= kFollowGrace;
        if (!followed_quiet) {
          wanted = false;
          why = "the followed server streams again";
        }
      }
    }
    if (w.pid != 0) {
      if (!wanted) {
        stop_wal(i, why);
      } else if (w.settings != w.wanted) {
        stop_wal(i, "its settings changed");
      }
    } else if (wanted && now >= w.next_start) {
      if (!s.follow.empty()) {
        log::info("server {} takes over WAL streaming from {}", s.name, s.follow);
      }
      start_wal(i);
    }
  }
}

void Server::Impl::child_exited(pid_t pid, int status) {
  auto it = children.find(pid);
  std::string what = it != children.end() ? it->second : "unknown";
  if (it != children.end()) {
    children.erase(it);
  }
  if (pid == probe_child) {
    probe_child = 0;
  }
  if (pid == retention_child) {
    retention_child = 0;
  }
  if (pid == offsite_child) {
    offsite_child = 0;
  }
  if (pid == verification_child) {
    verification_child = 0;
  }
  remote_sessions.erase(pid);
  if (pid == metrics_child) {
    metrics_child = 0;
    bool tls_failed = WIFEXITED(status) && WEXITSTATUS(status) == kMetricsTlsFailed;
    // Bad TLS files stay bad until the configuration changes (restart_services then).
    metrics_next_start = tls_failed ? std::chrono::steady_clock::time_point::max()
                                    : std::chrono::steady_clock::now() + kMetricsRestartDelay;
  }
  bool asked_to_stop = stopped.erase(pid) > 0;
  if (asked_to_stop && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) {
    log::debug("child {} ({}) stopped", pid, what);
  } else if (WIFSIGNALED(status)) {
    log::error("child {} ({}) was killed by signal {}", pid, what, WTERMSIG(status));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    log::warn("child {} ({}) exited with code {}", pid, what, WEXITSTATUS(status));
  } else {
    log::trace("child {} ({}) done", pid, what);
  }
  for (size_t i = 0; i < wal.size(); ++i) {
    if (wal[i].pid == pid) {
      wal_child_exited(i, status);
    }
  }
  // A repository lock held by a dead child would block the server forever; a killed
  // operation also leaves its activity marks set.
  ctx.shared->release(pid);
}

void Server::Impl::apply_config(std::shared_ptr<const config::Config> next) {
  ctx.config = std::move(next);
  const config::Config& c = *ctx.config;
  // The watchdog compares these with what each receiver was started with.
  for (size_t i = 0; i < wal.size() && i < c.servers.size(); ++i) {
    wal[i].wanted = wal_settings(c, i);
  }
  if (auto r = log::configure(log_options(c)); !r) {
    log::error("logging: {}", r.error().message());
  }
  ctx.shared->log_level.store(static_cast<int>(c.log_level));
  if (ev_is_active(&retention_timer)) {  // the timers are set up (not during start-up)
    arm_retention_timer();
    arm_verification_timer();
    restart_services("configuration change", true);
  }
}

CommandResult Server::Impl::reload(bool from_signal) {
  auto loaded = config::load_config(ctx.paths.main);
  if (!loaded) {
    log::error("reload: {}; keeping the running configuration", loaded.error().message());
    return CommandResult::failure(mgmt::kErrorReloadError, loaded.error().message(), "reload");
  }
  for (const auto& w : loaded->warnings) {
    log::warn("{}", w.to_string());
  }
  std::vector<std::string> restart = config::restart_required_changes(*ctx.config, *loaded->config);
  auto merged = std::make_shared<config::Config>(*loaded->config);
  bool servers_changed = false;
  for (const std::string& key : restart) {
    auto old_value = config::get_value(*ctx.config, key);
    bool kept = false;
    if (old_value) {
      auto set = config::set_value(*merged, key, *old_value);
      if (set) {
        merged = std::make_shared<config::Config>(*set->config);
        kept = true;
      }
    }
    if (!kept) {
      servers_changed = true;
    }
  }
  if (servers_changed) {
    // Servers added, removed or renamed: shared memory is laid out per server at start-up.
    merged->servers = ctx.config->servers;
  }
  if (!restart.empty()) {
    std::string keys;
    for (const auto& k : restart) {
      keys += (keys.empty() ? "" : ", ") + k;
    }
    log::warn("reload: restart pgmoneta to apply: {}", keys);
  }
  apply_config(merged);
  // Passwords may have changed as well.
  if (auto v = load_vaults(); !v) {
    log::error("reload: {}", v.error().message());
  }
  log::info("configuration reloaded from {}{}", ctx.paths.main, from_signal ? " (SIGHUP)" : "");
  start_probe();
  json r;
  r["Restart"] = !restart.empty();
  r["RestartKeys"] = restart;
  return CommandResult::success(r);
}

CommandResult Server::Impl::conf_set(const json& request) {
  std::string key = string_arg(request, "ConfigKey");
  std::string value = string_arg(request, "ConfigValue");
  if (key.empty() || !request.contains("ConfigValue") || !request["ConfigValue"].is_string()) {
    return CommandResult::failure(mgmt::kErrorConfSetNoKey,
                                  "conf set needs ConfigKey and ConfigValue as strings",
                                  "conf set");
  }
  auto set = config::set_value(*ctx.config, key, value);
  if (!set) {
    int32_t code = mgmt::kErrorConfSetError;
    switch (set.error().kind) {
      case config::SetError::Kind::kUnknownKey:
        code = mgmt::kErrorConfSetUnknownKey;
        break;
      case config::SetError::Kind::kUnknownServer:
        code = mgmt::kErrorConfSetUnknownServer;
        break;
      case config::SetError::Kind::kInvalidValue:
        code = mgmt::kErrorConfSetError;
        break;
    }
    return CommandResult::failure(code, set.error().error.message(), "conf set");
  }
  json r;
  r["config_key"] = set->key;
  r["old_value"] = set->old_value;
  r["requested_value"] = set->new_value;
  r["restart_required"] = set->restart_required;
  if (set->restart_required) {
    r["current_value"] = set->old_value;
    r["new_value"] = set->old_value;
    r["status"] = "success_restart_required";
    log::info("conf set {} = {}: takes effect after a restart", set->key, set->new_value);
  } else {
    bool ports = config::listeners_changed(*ctx.config, *set->config);
    apply_config(set->config);
    r["current_value"] = set->new_value;
    r["new_value"] = set->new_value;
    r["status"] = "success";
    log::info("conf set {} = {} (was {})", set->key, set->new_value, set->old_value);
    if (ports) {
      ::kill(::getpid(), SIGUSR1);
    }
  }
  return CommandResult::success(r);
}

void Server::Impl::begin_shutdown(const char* why) {
  if (shutting_down) {
    return;
  }
  shutting_down = true;
  ctx.shared->shutting_down.store(true);
  log::info("shutting down: {}", why);
  ev_break(loop, EVBREAK_ALL);
  for (WalChild& w : wal) {
    w.stopping = true;
  }
}

void Server::Impl::finish_shutdown() {
  close_listener();
  close_management_tcp();
  metrics_fd.reset();
  ev_timer_stop(loop, &probe_timer);
  ev_timer_stop(loop, &wal_timer);
  ev_timer_stop(loop, &retention_timer);
  ev_timer_stop(loop, &offsite_timer);
  ev_timer_stop(loop, &verification_timer);
  connections.clear();
  for (auto& [pid, what] : children) {
    ::kill(pid, SIGTERM);
  }
  auto deadline = std::chrono::steady_clock::now() + kChildShutdownGrace;
  while (!children.empty()) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      children.erase(pid);
      continue;
    }
    if (pid < 0 && errno == ECHILD) {
      children.clear();
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      for (auto& [cpid, what] : children) {
        log::warn("child {} ({}) did not stop in time; killing it", cpid, what);
        ::kill(cpid, SIGKILL);
        ::waitpid(cpid, nullptr, 0);
      }
      children.clear();
      break;
    }
    ::usleep(20000);
  }
  if (pid_written) {
    ::unlink(pid_path.c_str());
    pid_written = false;
  }
  log::info("pgmoneta: shutdown complete");
}

Result<void> Server::Impl::load_vaults() {
  // Without a users file, connections rely on libpq's own means (.pgpass, trust, certs);
  // without an admins file, remote management refuses every login.
  auto present = [](const std::string& path) {
    return !path.empty() && ::access(path.c_str(), F_OK) == 0;
  };
  bool users = present(ctx.paths.users);
  bool admins = present(ctx.paths.admins);
  if ((users || admins) && !ctx.master_key) {
    PGM_ASSIGN_OR_RETURN(crypto::MasterKey key, crypto::load_master_key());
    ctx.master_key = std::make_shared<const crypto::MasterKey>(std::move(key));
  }
  ctx.users.clear();
  if (users) {
    auto loaded = crypto::load_vault(ctx.paths.users, *ctx.master_key);
    if (!loaded) {
      return tl::unexpected(
          loaded.error().with_context(fmt::format("users file {}", ctx.paths.users)));
    }
    ctx.users = std::move(*loaded);
  }
  ctx.admins.clear();
  if (admins) {
    auto loaded = crypto::load_vault(ctx.paths.admins, *ctx.master_key);
    if (!loaded) {
      return tl::unexpected(
          loaded.error().with_context(fmt::format("admins file {}", ctx.paths.admins)));
    }
    ctx.admins = std::move(*loaded);
  }
  return {};
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  log::count_lines_in(nullptr);  // the counters live in the segment unmapped below
  if (impl_ && impl_->loop != nullptr) {
    impl_->close_listener();
    if (impl_->pid_written) {
      ::unlink(impl_->pid_path.c_str());
    }
  }
}

Result<std::unique_ptr<Server>> Server::create(ServerOptions options) {
  PGM_ASSIGN_OR_RETURN(SharedSegment segment, SharedSegment::create());
  auto impl = std::make_unique<Impl>(std::move(segment));
  impl->ctx.paths = options.paths;
  impl->ctx.config = options.loaded.config;
  impl->ctx.shared = &impl->segment.state();
  const config::Config& c = *impl->ctx.config;

  if (c.servers.size() > kMaxServers) {
    return make_error(ErrorCode::kConfig, fmt::format("at most {} servers", kMaxServers));
  }
  impl->ctx.shared->number_of_servers = c.servers.size();
  impl->ctx.shared->start_epoch.store(static_cast<int64_t>(::time(nullptr)));
  impl->ctx.shared->log_level.store(static_cast<int>(c.log_level));

  struct stat st {};
  if (::stat(c.unix_socket_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return make_error(
        ErrorCode::kConfig,
        fmt::format("unix_socket_dir {} does not exist or is not a directory", c.unix_socket_dir));
  }
  if (auto r = io::make_directories(c.base_dir, 0700); !r) {
    return tl::unexpected(r.error().with_context("base_dir"));
  }
  // The master key is optional: it is needed for vaults and encrypted management frames.
  if (auto key = crypto::load_master_key(); key) {
    impl->ctx.master_key = std::make_shared<const crypto::MasterKey>(std::move(*key));
  } else if (key.error().code() != ErrorCode::kNotFound) {
    return tl::unexpected(key.error());
  }
  PGM_TRY(impl->load_vaults());

  unsigned int backend = 0;
  switch (c.libev) {
    case config::Libev::kAuto:
      backend = EVFLAG_AUTO;
      break;
    case config::Libev::kSelect:
      backend = EVBACKEND_SELECT;
      break;
    case config::Libev::kPoll:
      backend = EVBACKEND_POLL;
      break;
    case config::Libev::kEpoll:
      backend = EVBACKEND_EPOLL;
      break;
    case config::Libev::kIouring:
      backend = EVBACKEND_IOURING;
      break;
    case config::Libev::kDevpoll:
      backend = EVBACKEND_DEVPOLL;
      break;
    case config::Libev::kPort:
      backend = EVBACKEND_PORT;
      break;
  }
  impl->loop = ev_default_loop(backend);
  if (impl->loop == nullptr && backend != EVFLAG_AUTO) {
    log::warn("libev backend not available here; using the default");
    impl->loop = ev_default_loop(EVFLAG_AUTO);
  }
  if (impl->loop == nullptr) {
    return make_error(ErrorCode::kInternal, "cannot initialise libev");
  }
  ev_set_userdata(impl->loop, impl.get());

  impl->pid_path = c.pidfile;
  PGM_TRY(impl->write_pid_file());
  Result<void> opened = impl->open_listener();
  if (opened) {
    opened = impl->open_management_tcp();
  }
  if (opened) {
    opened = impl->open_metrics();
  }
  if (!opened) {
    impl->close_listener();
    ::unlink(impl->pid_path.c_str());
    impl->pid_written = false;
    return tl::unexpected(opened.error());
  }
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

  ev_io_init(&s.accept_watcher, on_accept_cb, s.listen_fd.get(), EV_READ);
  ev_io_start(loop, &s.accept_watcher);
  ev_signal_init(&s.sig_hup, on_signal, SIGHUP);
  ev_signal_init(&s.sig_usr1, on_signal, SIGUSR1);
  ev_signal_init(&s.sig_term, on_signal, SIGTERM);
  ev_signal_init(&s.sig_int, on_signal, SIGINT);
  ev_signal_init(&s.sig_alrm, on_signal, SIGALRM);
  for (ev_signal* w : {&s.sig_hup, &s.sig_usr1, &s.sig_term, &s.sig_int, &s.sig_alrm}) {
    ev_signal_start(loop, w);
  }
  ev_child_init(&s.child_watcher, on_child, 0, 0);  // pid 0: every child
  ev_child_start(loop, &s.child_watcher);
  ev_timer_init(&s.probe_timer, on_probe_timer, kProbeInterval, kProbeInterval);
  ev_timer_start(loop, &s.probe_timer);
  s.wal.resize(s.ctx.config->servers.size());
  for (size_t i = 0; i < s.wal.size(); ++i) {
    s.wal[i].wanted = wal_settings(*s.ctx.config, i);
  }
  ev_timer_init(&s.wal_timer, on_wal_timer, kWalWatchdogInterval, kWalWatchdogInterval);
  ev_timer_start(loop, &s.wal_timer);
  ev_init(&s.retention_timer, on_retention_timer);
  s.arm_retention_timer();
  ev_init(&s.verification_timer, on_verification_timer);
  s.arm_verification_timer();
  ev_timer_init(&s.offsite_timer, on_offsite_timer, kOffsiteInterval, kOffsiteInterval);
  ev_timer_start(loop, &s.offsite_timer);

  const config::Config& c = *s.ctx.config;
  log::info("pgmoneta {}: started (pid {}, socket {}, {} server{})", kVersion, ::getpid(),
            s.listen_path, c.servers.size(), c.servers.size() == 1 ? "" : "s");
  s.start_probe();
  s.reconcile_wal();
  s.start_metrics();

  ev_run(loop, 0);
  s.finish_shutdown();
  return s.exit_code;
}

}  // namespace pgm::daemon
