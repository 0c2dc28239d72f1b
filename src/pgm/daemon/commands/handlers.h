// The daemon's command handlers, one per row of management/command_table.h, and the table that
// finds them. A handler gets a Call and answers a CommandResult; the management endpoint
// (management_endpoint.h) turns it into the response frame, the same way for inline and
// forked commands.
//
// Placement is the row's: an inline handler runs in the main loop and must return at once;
// a forked one runs in a child and may block.
#pragma once

#include <nlohmann/json.hpp>

#include "pgm/daemon/commands.h"
#include "pgm/daemon/context.h"
#include "pgm/management/command_table.h"
#include "pgm/management/protocol.h"

namespace pgm::daemon {

// What the main loop offers inline commands that change the running daemon.
class MainLoopControl {
 public:
  virtual ~MainLoopControl() = default;
  // conf reload: re-reads the configuration files.
  virtual CommandResult reload() = 0;
  // conf set: one key, applied at once when it needs no restart.
  virtual CommandResult conf_set(const nlohmann::json& request) = 0;
};

// One invocation of a handler.
struct Call {
  const DaemonContext& ctx;
  const nlohmann::json& request;    // the document's Request object ({} when absent)
  MainLoopControl* main = nullptr;  // inline commands only; nullptr in a forked child
};

using Handler = CommandResult (*)(const Call& call);

namespace commands {
#define PGM_DECLARE_HANDLER(id, code, name, verb, placement, family, layout, handler, ...) \
  CommandResult handler(const Call& call);
PGM_COMMANDS(PGM_DECLARE_HANDLER)
#undef PGM_DECLARE_HANDLER
}  // namespace commands

// The handler of a command; nullptr for codes the daemon does not answer.
Handler find_handler(management::Command command);

}  // namespace pgm::daemon
