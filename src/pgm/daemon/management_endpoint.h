// ManagementEndpoint: the daemon's unix socket (<unix_socket_dir>/.s.pgmoneta). One frame per
// connection (reference §4.1): read it, find the command's row and handler, run an inline
// handler in the loop or fork a child for the rest, answer one frame, close. Both paths build
// the answer with the same encoder. Main process only; never blocks in a callback.
#pragma once

#include <ev.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"
#include "pgm/daemon/children.h"
#include "pgm/daemon/commands/handlers.h"

namespace pgm::daemon {

// The response frame for a handler's result: success or failure document (a failure's
// Response members merged in), compressed and encrypted as the request was. Used in the main
// loop and in forked children alike.
Result<std::vector<uint8_t>> encode_response(const DaemonContext& ctx,
                                             const nlohmann::json& request_doc,
                                             const CommandResult& result, double elapsed,
                                             uint8_t compression, uint8_t encryption);

class ManagementEndpoint {
 public:
  // `ctx`, `children` and `main` outlive the endpoint. `on_shutdown` runs after the answer
  // to `shutdown` has been written.
  ManagementEndpoint(struct ev_loop* loop, const DaemonContext& ctx, ChildTable& children,
                     MainLoopControl& main, std::function<void()> on_shutdown);
  ~ManagementEndpoint();
  ManagementEndpoint(const ManagementEndpoint&) = delete;
  ManagementEndpoint& operator=(const ManagementEndpoint&) = delete;

  // Binds the socket (a stale one of a crashed daemon is removed; a live one is an error).
  Result<void> open();
  // Starts accepting.
  void start();
  // Stops accepting, closes every connection and removes the socket file.
  void close();
  const std::string& path() const { return path_; }

  // In a forked child: closes the listener and every connection but `keep`.
  void close_inherited(int keep);

  struct Connection;

 private:
  void on_accept();
  void on_io(Connection& conn);
  void close_connection(int fd);
  void dispatch(Connection& conn, const nlohmann::json& doc);
  void reply(Connection& conn, const nlohmann::json& request_doc, const CommandResult& result,
             std::chrono::steady_clock::time_point started);
  void fork_command(Connection& conn, const nlohmann::json& doc, management::Command command);

  struct ev_loop* loop_;
  const DaemonContext& ctx_;
  ChildTable& children_;
  MainLoopControl& main_;
  std::function<void()> on_shutdown_;
  UniqueFd listen_fd_;
  std::string path_;
  ev_io accept_watcher_{};
  std::map<int, std::unique_ptr<Connection>> connections_;
};

}  // namespace pgm::daemon
