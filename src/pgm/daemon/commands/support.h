// Small pieces shared by the forked command handlers (commands/backup.cc,
// restore.cc, ...): server lookup, the repository lock and activity guards, worker
// counts.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include "pgm/activity/repository_state.h"
#include "pgm/daemon/commands.h"
#include "pgm/daemon/context.h"
#include "pgm/management/protocol.h"

namespace pgm::daemon {

// The shared pieces now live below the daemon (activity/, config/); handlers use them by the
// short names.
using activity::ActivityGuard;
using activity::RepositoryLock;
using activity::wall_clock_ms;
using config::progress_enabled;
using config::workers_for;

// Peak resident set of this process in kB (getrusage's ru_maxrss): a forked command's own
// figure, logged with its outcome so that memory per file can be measured.
inline long max_rss_kb() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

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

// Bytes of regular files below `path` (0 when it does not exist). Never follows symlinks.
uint64_t directory_size(const std::string& path);

inline std::string unknown_server(const nlohmann::json& request) {
  return fmt::format("unknown server '{}'", string_arg(request, management::key::kServer));
}

}  // namespace pgm::daemon
