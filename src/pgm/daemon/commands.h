// Management command handlers of the daemon. Each handler gets the decoded request document
// and answers a CommandResult; the server turns it into a response frame.
//
// Where a handler runs is part of its contract (reference §0): kInline handlers run in the
// main process and must be quick and non-blocking; kForked handlers run in a forked child
// and may block (network, disk).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgm/daemon/context.h"

namespace pgm::daemon {

enum class Placement { kInline, kForked, kUnavailable };

struct CommandResult {
  bool ok = true;
  nlohmann::json response = nlohmann::json::object();
  int32_t error = 0;  // management error code when !ok
  std::string workflow = "main";
  std::string message;  // one-line human reason when !ok

  static CommandResult success(nlohmann::json response) {
    CommandResult r;
    r.response = std::move(response);
    return r;
  }
  static CommandResult failure(int32_t error, std::string message, std::string workflow = "main") {
    CommandResult r;
    r.ok = false;
    r.error = error;
    r.message = std::move(message);
    r.workflow = std::move(workflow);
    return r;
  }
};

// What the main process does after answering an inline command.
enum class AfterReply { kNothing, kShutdown, kReloaded };

Placement placement_of(int32_t command);

// The "not available" failure for commands this build does not implement yet.
CommandResult unavailable(int32_t command);

// Forked commands: status, status details, mode.
CommandResult run_forked(const DaemonContext& ctx, int32_t command, const nlohmann::json& request);

// Name of a command for logs and process titles ("status details", "conf set", ...).
std::string command_name(int32_t command);

// A string argument of the request; empty when absent or not a string (requests come from
// the network: a wrong type must give a clear failure, never an exception).
std::string string_arg(const nlohmann::json& request, const char* key);

// Response builders shared with the server for inline commands.
nlohmann::json conf_ls_response(const DaemonContext& ctx);

}  // namespace pgm::daemon
