// Configuration operations of the running daemon: what `conf reload` (and SIGHUP) and
// `conf set` turn the configuration into, and the vaults' loading. Pure planning over the
// DaemonContext: the server applies the result (timers, services, WAL receivers). Main
// process only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgm/core/result.h"
#include "pgm/daemon/commands.h"
#include "pgm/daemon/context.h"

namespace pgm::daemon {

// conf reload: the files' configuration, except settings that need a restart, which keep
// their running values (servers added, removed or renamed keep the running server list:
// shared memory is laid out per server at start-up). restart_keys names those settings.
struct ReloadPlan {
  std::shared_ptr<const config::Config> config;
  std::vector<std::string> restart_keys;
};
Result<ReloadPlan> plan_reload(const DaemonContext& ctx);

// The Response of conf reload.
nlohmann::json reload_response(const ReloadPlan& plan);

// conf set <key> <value>: the answer, and the configuration to apply (nullptr when the key
// needs a restart or the request failed).
struct ConfSetPlan {
  CommandResult result;
  std::shared_ptr<const config::Config> apply;
};
ConfSetPlan plan_conf_set(const DaemonContext& ctx, const nlohmann::json& request);

// Loads the users and admins vaults (and the master key they need) into ctx. Without a users
// file, connections rely on libpq's own means (.pgpass, trust, certificates); without an
// admins file, remote management refuses every login.
Result<void> load_vaults(DaemonContext& ctx);

}  // namespace pgm::daemon
