// The command registry: the rows of command_table.h as data, for the CLI (verbs, usage,
// help), the output formatting (layout) and the daemon (placement, error family). Constant
// tables and pure lookups; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "pgm/management/errors.h"
#include "pgm/management/protocol.h"

namespace pgm::management {

// Where the daemon runs a command.
enum class Placement : uint8_t {
  kInline,  // in the main loop, answered at once; must not block
  kForked,  // in a forked child, which may block (network, disk)
};

// How pgmoneta-cli translates a command's Response for text and json output (output.h).
enum class Layout : uint8_t {
  kPlain,          // as it is
  kBackup,         // one backup's fields (sizes, Valid, compression and encryption names)
  kBackupList,     // Backups: an array of backups
  kStatus,         // totals and Servers
  kConfiguration,  // conf get: configuration enums to names
  kObjects,        // an off-site listing
};

struct CommandSpec {
  Command command;
  int32_t code;
  std::string_view name;  // "status details"
  std::string_view verb;  // "status"
  Placement placement;
  Family family;
  Layout layout;
  std::string_view usage;  // on the verb's first row only
  std::string_view help;   // on the verb's first row only
};

// Every command the daemon answers, in `pgmoneta-cli --help` order.
std::span<const CommandSpec> command_specs();

// The row of a command; nullptr for codes the daemon does not answer (pgmoneta-admin's).
const CommandSpec* find_spec(Command command);
const CommandSpec* find_spec_by_code(int32_t code);

// The commands' error code for a failure: error_code(spec.family, failure).
int32_t error_code(Command command, Failure failure);

}  // namespace pgm::management
