#include "pgm/management/protocol.h"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "pgm/management/registry.h"

namespace pgm::management {

namespace {

// pgmoneta-admin's codes: never sent to the daemon, so not in the command table.
constexpr std::pair<Command, std::string_view> kAdminCommands[] = {
    {Command::kMasterKey, "master-key"}, {Command::kAddUser, "user add"},
    {Command::kUpdateUser, "user edit"}, {Command::kRemoveUser, "user del"},
    {Command::kListUsers, "user ls"},
};

}  // namespace

std::string_view command_name(Command command) {
  if (const CommandSpec* spec = find_spec(command)) {
    return spec->name;
  }
  for (const auto& [c, name] : kAdminCommands) {
    if (c == command) {
      return name;
    }
  }
  return "unknown";
}

std::optional<Command> command_from_code(int32_t code) {
  if (const CommandSpec* spec = find_spec_by_code(code)) {
    return spec->command;
  }
  for (const auto& [c, name] : kAdminCommands) {
    if (static_cast<int32_t>(c) == code) {
      return c;
    }
  }
  return std::nullopt;
}

std::optional<Command> command_from_name(std::string_view name) {
  for (const CommandSpec& spec : command_specs()) {
    if (spec.name == name) {
      return spec.command;
    }
  }
  for (const auto& [c, n] : kAdminCommands) {
    if (n == name) {
      return c;
    }
  }
  return std::nullopt;
}

std::string_view output_format_name(OutputFormat format) {
  switch (format) {
    case OutputFormat::kText:
      return "text";
    case OutputFormat::kJson:
      return "json";
    case OutputFormat::kRaw:
      return "raw";
  }
  return "text";
}

std::optional<OutputFormat> parse_output_format(std::string_view name) {
  if (name == "text") {
    return OutputFormat::kText;
  }
  if (name == "json") {
    return OutputFormat::kJson;
  }
  if (name == "raw") {
    return OutputFormat::kRaw;
  }
  return std::nullopt;
}

}  // namespace pgm::management
