// The inline commands: answered by the main loop at once (ping, shutdown, clear prometheus,
// conf reload|ls|get|set).
#include <ctime>

#include "pgm/config/config.h"
#include "pgm/daemon/commands/handlers.h"
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

CommandResult conf_get(const Call& call) {
  return CommandResult::success(config::to_json(*call.ctx.config));
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
