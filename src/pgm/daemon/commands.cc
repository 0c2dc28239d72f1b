#include "pgm/daemon/commands.h"

#include <unistd.h>

#include <fmt/format.h>

#include "pgm/management/protocol.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
using nlohmann::json;

CommandResult unavailable(int32_t command) {
  std::string_view name = mgmt::command_name(static_cast<mgmt::Command>(command));
  if (name.empty() || name == "unknown") {
    return CommandResult::failure(mgmt::kErrorUnknownCommand,
                                  fmt::format("unknown command {}", command));
  }
  return CommandResult::failure(
      mgmt::kErrorUnknownCommand,
      fmt::format("command '{}' is not available in this version of the daemon", name));
}

std::string string_arg(const json& request, const char* key) {
  if (!request.is_object()) {
    return {};
  }
  auto it = request.find(key);
  if (it == request.end() || !it->is_string()) {
    return {};
  }
  return it->get<std::string>();
}

json conf_ls_response(const DaemonContext& ctx) {
  json r;
  // pgmoneta-cli reads these exact names.
  r["main_configuration_path"] = ctx.paths.main;
  r["users_configuration_path"] = ctx.paths.users;
  r["admin_configuration_path"] = ctx.paths.admins;
  return r;
}

int DaemonContext::server_index(std::string_view name) const {
  for (size_t i = 0; i < config->servers.size(); ++i) {
    if (config->servers[i].name == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::string DaemonContext::password_for(std::string_view user) const {
  for (const crypto::VaultEntry& e : users) {
    if (e.name == user) {
      return e.password;
    }
  }
  return {};
}

std::optional<std::string> DaemonContext::admin_password(std::string_view user) const {
  for (const crypto::VaultEntry& e : admins) {
    if (e.name == user) {
      return e.password;
    }
  }
  return std::nullopt;
}

}  // namespace pgm::daemon
