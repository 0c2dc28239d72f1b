// Small pieces shared by the forked command handlers (backup_commands.cc,
// restore_commands.cc, ...): server lookup, the repository lock guard, worker counts.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "pgm/daemon/commands.h"
#include "pgm/daemon/context.h"
#include "pgm/management/protocol.h"

namespace pgm::daemon {

inline int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// workers = 0 means "no pool" in pgmoneta; our pipelines always have at least one worker,
// which is the same amount of parallelism.
inline int workers_for(const config::Config& c, const config::ServerConfig& s) {
  int w = s.workers >= 0 ? s.workers : c.workers;
  return std::max(1, w);
}

inline bool progress_enabled(const config::Config& c, const config::ServerConfig& s) {
  return s.progress.value_or(c.progress);
}

// Holds a server's repository lock for one operation; released on every path.
class RepositoryLock {
 public:
  explicit RepositoryLock(ServerState& state) : state_(state) {
    locked_ = state_.try_lock_repository(::getpid());
  }
  ~RepositoryLock() {
    if (locked_) {
      state_.unlock_repository(::getpid());
    }
  }
  RepositoryLock(const RepositoryLock&) = delete;
  RepositoryLock& operator=(const RepositoryLock&) = delete;
  bool locked() const { return locked_; }

 private:
  ServerState& state_;
  bool locked_ = false;
};

struct ServerLookup {
  int index = -1;
  const config::ServerConfig* server = nullptr;
};

inline ServerLookup find_server(const DaemonContext& ctx, const nlohmann::json& request) {
  ServerLookup l;
  l.index = ctx.server_index(string_arg(request, management::key::kServer));
  if (l.index >= 0) {
    l.server = &ctx.config->servers[static_cast<size_t>(l.index)];
  }
  return l;
}

inline std::string unknown_server(const nlohmann::json& request) {
  return fmt::format("unknown server '{}'", string_arg(request, management::key::kServer));
}

}  // namespace pgm::daemon
