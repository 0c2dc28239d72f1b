// The inline commands: answered by the main loop at once (ping, shutdown, clear prometheus,
// conf reload|ls|get|set).
#include <ctime>

#include "pgm/config/config.h"
#include "pgm/daemon/commands/handlers.h"
#include "pgm/management/conf_types.h"
#include "pgm/management/errors.h"

namespace pgm::daemon::commands {

using nlohmann::json;

CommandResult ping(const Call& /*call*/) { return CommandResult::success(json::object()); }

CommandResult shutdown(const Call& /*call*/) {
  CommandResult r = CommandResult::success(json::object());
  r.after = AfterReply::kShutdown;
  return r;
}

// The operation counters go back to zero and the metrics process drops its cached answers.
CommandResult clear_prometheus(const Call& call) {
  SharedState& shared = *call.ctx.shared;
  for (size_t i = 0; i < call.ctx.config->servers.size(); ++i) {
    shared.servers[i].operation_count.store(0);
    shared.servers[i].failed_operation_count.store(0);
  }
  shared.metrics_counters.reset(static_cast<int64_t>(::time(nullptr)));
  shared.metrics_generation.fetch_add(1);
  return CommandResult::success(json::object());
}

CommandResult conf_ls(const Call& call) {
  return CommandResult::success(conf_ls_response(call.ctx));
}

// pgmoneta's conf get: its keys (the three configuration paths, `manifest`, each server's
// `online`) with its types (management/conf_types.h); our extra keys stay as text.
CommandResult conf_get(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  json doc = config::to_json(*ctx.config, ctx.paths);
  const bool main_progress = ctx.config->progress;
  for (auto& [key, value] : doc.items()) {
    if (value.is_string()) {
      value = management::typed_conf_value(key, value.get<std::string>(), false);
    }
  }
  doc["manifest"] = "SHA512";
  if (auto servers = doc.find("server"); servers != doc.end() && servers->is_object()) {
    for (auto& [name, server] : servers->items()) {
      if (!server.is_object()) {
        continue;
      }
      for (auto& [key, value] : server.items()) {
        if (!value.is_string()) {
          continue;
        }
        // An unset per-server progress (-1) is the [pgmoneta] one.
        value = key == "progress" && value == "-1"
                    ? json(main_progress)
                    : management::typed_conf_value(key, value.get<std::string>(), true);
      }
      server["manifest"] = "SHA512";
      const int index = ctx.server_index(name);
      server["online"] =
          index >= 0 && ctx.shared->servers[static_cast<size_t>(index)].snapshot().online;
    }
  }
  return CommandResult::success(doc);
}

namespace {

CommandResult no_main_loop() {
  return CommandResult::failure(management::kErrorUnknownCommand,
                                "this command runs only in the daemon's main process");
}

}  // namespace

CommandResult conf_reload(const Call& call) {
  return call.main != nullptr ? call.main->reload() : no_main_loop();
}

CommandResult conf_set(const Call& call) {
  return call.main != nullptr ? call.main->conf_set(call.request) : no_main_loop();
}

}  // namespace pgm::daemon::commands
