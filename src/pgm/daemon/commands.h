// CommandResult, what every management command handler answers (commands/handlers.h), and
// the pieces handlers share: request arguments, status and mode.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgm/daemon/context.h"
#include "pgm/management/errors.h"

namespace pgm::daemon {

// What the main process does after answering an inline command.
enum class AfterReply { kNothing, kShutdown };

struct CommandResult {
  bool ok = true;
  nlohmann::json response = nlohmann::json::object();
  int32_t error = 0;  // management error code when !ok
  std::string workflow = "main";
  std::string message;  // one-line human reason when !ok
  AfterReply after = AfterReply::kNothing;

  static CommandResult success(nlohmann::json response) {
    CommandResult r;
    r.response = std::move(response);
    return r;
  }
  // A failure named by what went wrong in the command's error family; the code comes from the
  // one table of management/errors.h.
  static CommandResult failure(management::Family family, management::Failure failure,
                               std::string message, std::string workflow = "main") {
    return CommandResult::failure(management::error_code(family, failure), std::move(message),
                                  std::move(workflow));
  }
  // A protocol-level failure outside every family (kErrorBadPayload, kErrorUnknownCommand,
  // kErrorAllocation).
  static CommandResult failure(int32_t error, std::string message, std::string workflow = "main") {
    CommandResult r;
    r.ok = false;
    r.error = error;
    r.message = std::move(message);
    r.workflow = std::move(workflow);
    return r;
  }
};

// The answer to a code the daemon has no handler for: kErrorUnknownCommand naming it.
CommandResult unavailable(int32_t command);

// A string argument of the request; empty when absent or not a string (requests come from
// the network: a wrong type must give a clear failure, never an exception).
std::string string_arg(const nlohmann::json& request, const char* key);

// Response builders shared with the server for inline commands.
nlohmann::json conf_ls_response(const DaemonContext& ctx);

}  // namespace pgm::daemon
