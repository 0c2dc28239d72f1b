#include "pgm/daemon/management_endpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "pgm/io/fd.h"
#include "pgm/log/log.h"
#include "pgm/management/document.h"
#include "pgm/management/frame.h"
#include "pgm/management/registry.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
using nlohmann::json;

namespace {

// Requests are small JSON documents; anything larger is refused before it is buffered.
constexpr uint32_t kMaxRequestFrame = 1u << 20;
// Connections beyond this are closed at once so a flood cannot exhaust descriptors.
constexpr size_t kMaxConnections = 512;
// How long a forked child may take to hand its answer to a slow client.
constexpr std::chrono::seconds kChildWriteTimeout{30};

// Blocking write of a whole buffer with a deadline (children only).
bool write_all_blocking(int fd, const std::vector<uint8_t>& data, std::chrono::seconds timeout) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  auto written = io::write_all(fd, std::span(data), "management: write the answer");
  if (!written) {
    log::debug("{}", written.error().message());
  }
  return written.has_value();
}

double seconds_since(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

}  // namespace

// One management client: read one frame, answer one frame, close.
struct ManagementEndpoint::Connection {
  ManagementEndpoint* owner = nullptr;
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

Result<std::vector<uint8_t>> encode_response(const DaemonContext& ctx, const json& request_doc,
                                             const CommandResult& result, double elapsed,
                                             uint8_t compression, uint8_t encryption) {
  json doc = result.ok ? mgmt::make_success(request_doc, result.response, elapsed)
                       : mgmt::make_failure(request_doc, result.error, result.workflow, {},
                                            result.message);
  if (!result.ok && result.response.is_object()) {
    // A failure may still carry a Response (verify's Failed list): merged in.
    for (const auto& [k, v] : result.response.items()) {
      doc["Response"][k] = v;
    }
  }
  return mgmt::encode_frame(doc, static_cast<compress::Algorithm>(compression),
                            static_cast<crypto::AesMode>(encryption), ctx.master_key.get());
}

ManagementEndpoint::ManagementEndpoint(struct ev_loop* loop, const DaemonContext& ctx,
                                       ChildTable& children, MainLoopControl& main,
                                       std::function<void()> on_shutdown)
    : loop_(loop),
      ctx_(ctx),
      children_(children),
      main_(main),
      on_shutdown_(std::move(on_shutdown)) {}

ManagementEndpoint::~ManagementEndpoint() { close(); }

Result<void> ManagementEndpoint::open() {
  const config::Config& c = *ctx_.config;
  path_ = c.unix_socket_dir + "/" + std::string(mgmt::kSocketName);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(addr.sun_path)) {
    return make_error(
        ErrorCode::kConfig,
        fmt::format("unix_socket_dir {} is too long for a socket path", c.unix_socket_dir));
  }
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);

  // A socket file left by a crashed daemon is removed; one that answers is a running daemon.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return make_error(ErrorCode::kUnavailable,
                        fmt::format("{} is in use: is pgmoneta already running?", path_));
    }
    ::unlink(path_.c_str());
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    return make_errno_error("socket", errno);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return make_errno_error(fmt::format("bind {}", path_), errno);
  }
  ::chmod(path_.c_str(), 0700);
  if (::listen(fd.get(), std::max(c.backlog, 16)) != 0) {
    ::unlink(path_.c_str());
    return make_errno_error(fmt::format("listen {}", path_), errno);
  }
  listen_fd_ = std::move(fd);
  return {};
}

void ManagementEndpoint::start() {
  ev_io_init(
      &accept_watcher_,
      [](struct ev_loop* /*loop*/, ev_io* w, int /*revents*/) {
        static_cast<ManagementEndpoint*>(w->data)->on_accept();
      },
      listen_fd_.get(), EV_READ);
  accept_watcher_.data = this;
  ev_io_start(loop_, &accept_watcher_);
}

void ManagementEndpoint::close() {
  if (listen_fd_) {
    ev_io_stop(loop_, &accept_watcher_);
    listen_fd_.reset();
    ::unlink(path_.c_str());
  }
  while (!connections_.empty()) {
    close_connection(connections_.begin()->first);
  }
}

void ManagementEndpoint::close_inherited(int keep) {
  listen_fd_.reset();
  for (auto& [fd, conn] : connections_) {
    if (fd != keep) {
      conn->fd.reset();
    }
  }
}

void ManagementEndpoint::on_accept() {
  for (;;) {
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        log::warn("accept on {}: {}", path_,
                  std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
      }
      return;
    }
    if (connections_.size() >= kMaxConnections || ctx_.shared->shutting_down.load()) {
      continue;  // closed by UniqueFd: too many clients at once
    }
    auto conn = std::make_unique<Connection>();
    conn->owner = this;
    int raw = fd.get();
    conn->fd = std::move(fd);
    ev_io_init(
        &conn->io,
        [](struct ev_loop* /*loop*/, ev_io* w, int /*revents*/) {
          auto* c = static_cast<Connection*>(w->data);
          c->owner->on_io(*c);
        },
        raw, EV_READ);
    conn->io.data = conn.get();
    double timeout =
        static_cast<double>(std::max<int64_t>(1, ctx_.config->blocking_timeout.count()));
    ev_timer_init(
        &conn->timer,
        [](struct ev_loop* /*loop*/, ev_timer* w, int /*revents*/) {
          auto* c = static_cast<Connection*>(w->data);
          log::debug("management connection timed out");
          c->owner->close_connection(c->fd.get());
        },
        timeout, 0.0);
    conn->timer.data = conn.get();
    ev_io_start(loop_, &conn->io);
    ev_timer_start(loop_, &conn->timer);
    connections_.emplace(raw, std::move(conn));
  }
}

void ManagementEndpoint::close_connection(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) {
    return;
  }
  ev_io_stop(loop_, &it->second->io);
  ev_timer_stop(loop_, &it->second->timer);
  connections_.erase(it);  // closes the descriptor
}

void ManagementEndpoint::on_io(Connection& conn) {
  int fd = conn.fd.get();
  if (conn.writing) {
    while (conn.out_off < conn.out.size()) {
      ssize_t n =
          ::send(fd, conn.out.data() + conn.out_off, conn.out.size() - conn.out_off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          return;
        }
        if (errno == EINTR) {
          continue;
        }
        break;
      }
      conn.out_off += static_cast<size_t>(n);
    }
    AfterReply after = conn.after;
    close_connection(fd);
    if (after == AfterReply::kShutdown && on_shutdown_) {
      on_shutdown_();
    }
    return;
  }
  auto now = std::chrono::steady_clock::now();
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
      close_connection(fd);
      return;
    }
    if (n == 0) {
      close_connection(fd);  // the peer closed before sending a whole frame
      return;
    }
    auto state = conn.reader.feed(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
    if (state == mgmt::FrameReader::State::kNeedMore) {
      continue;
    }
    if (state == mgmt::FrameReader::State::kError) {
      log::debug("management: bad frame: {}", conn.reader.error());
      reply(conn, json::object(),
            CommandResult::failure(mgmt::kErrorBadPayload,
                                   fmt::format("bad frame: {}", conn.reader.error())),
            now);
      return;
    }
    const auto& header = conn.reader.header();
    conn.compression = header.compression;
    conn.encryption = header.encryption;
    auto doc = mgmt::decode_payload(header.compression, header.encryption, conn.reader.payload(),
                                    ctx_.master_key.get());
    if (!doc) {
      log::debug("management: bad payload: {}", doc.error().message());
      // Answer in plain JSON: we could not understand their compression/encryption.
      conn.compression = 0;
      conn.encryption = 0;
      reply(conn, json::object(),
            CommandResult::failure(mgmt::kErrorBadPayload, doc.error().message()), now);
      return;
    }
    // Request documents come from the network: a nlohmann type error on a field we missed
    // must cost this request, not the daemon.
    try {
      dispatch(conn, *doc);
    } catch (const std::exception& e) {
      log::warn("management: bad request: {}", e.what());
      reply(
          conn, json::object(),
          CommandResult::failure(mgmt::kErrorBadPayload, fmt::format("bad request: {}", e.what())),
          now);
    }
    return;
  }
}

void ManagementEndpoint::reply(Connection& conn, const json& request_doc,
                               const CommandResult& result,
                               std::chrono::steady_clock::time_point started) {
  auto frame = encode_response(ctx_, request_doc, result, seconds_since(started), conn.compression,
                               conn.encryption);
  if (!frame) {
    log::warn("management: cannot encode response: {}", frame.error().message());
    close_connection(conn.fd.get());
    return;
  }
  conn.out = std::move(*frame);
  conn.out_off = 0;
  conn.after = result.after;
  conn.writing = true;
  ev_io_stop(loop_, &conn.io);
  ev_io_set(&conn.io, conn.fd.get(), EV_WRITE);
  ev_io_start(loop_, &conn.io);
}

void ManagementEndpoint::dispatch(Connection& conn, const json& doc) {
  auto started = std::chrono::steady_clock::now();
  auto request = mgmt::parse_request(doc);
  if (!request) {
    reply(conn, doc, CommandResult::failure(mgmt::kErrorBadPayload, request.error().message()),
          started);
    return;
  }
  int32_t code = request->command;
  const mgmt::CommandSpec* spec = mgmt::find_spec_by_code(code);
  Handler handler = spec != nullptr ? find_handler(spec->command) : nullptr;
  if (handler == nullptr) {
    reply(conn, doc, unavailable(code), started);
    return;
  }
  log::debug("management: {} ({})", spec->name, code);
  if (spec->placement == mgmt::Placement::kForked) {
    fork_command(conn, doc, spec->command);
    return;
  }
  reply(conn, doc, handler(Call{ctx_, request->request, &main_}), started);
}

void ManagementEndpoint::fork_command(Connection& conn, const json& doc, mgmt::Command command) {
  auto started = std::chrono::steady_clock::now();
  std::string name(mgmt::command_name(command));
  int fd = conn.fd.get();
  uint8_t compression = conn.compression;
  uint8_t encryption = conn.encryption;
  pid_t pid = children_.fork(name, "", fd, [&]() -> int {
    json request =
        doc.contains("Request") && doc["Request"].is_object() ? doc["Request"] : json::object();
    CommandResult result;
    try {
      result = find_handler(command)(Call{ctx_, request, nullptr});
    } catch (const std::exception& e) {
      result =
          CommandResult::failure(mgmt::kErrorBadPayload, fmt::format("bad request: {}", e.what()));
    }
    auto frame =
        encode_response(ctx_, doc, result, seconds_since(started), compression, encryption);
    return frame && write_all_blocking(fd, *frame, kChildWriteTimeout) ? 0 : 1;
  });
  if (pid < 0) {
    reply(conn, doc,
          CommandResult::failure(mgmt::kErrorAllocation, "the daemon could not fork a worker"),
          started);
    return;
  }
  close_connection(fd);
}

}  // namespace pgm::daemon
