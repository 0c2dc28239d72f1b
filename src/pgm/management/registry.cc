#include "pgm/management/registry.h"

#include <array>

namespace pgm::management {

namespace {

#define PGM_COMMAND_SPEC(id, code, name, verb, placement, family, layout, handler, usage, help) \
  CommandSpec{Command::id,    code,           name,  verb, Placement::placement,                \
              Family::family, Layout::layout, usage, help},
constexpr CommandSpec kSpecs[] = {PGM_COMMANDS(PGM_COMMAND_SPEC)};
#undef PGM_COMMAND_SPEC

}  // namespace

std::span<const CommandSpec> command_specs() { return kSpecs; }

const CommandSpec* find_spec(Command command) {
  for (const CommandSpec& s : kSpecs) {
    if (s.command == command) {
      return &s;
    }
  }
  return nullptr;
}

const CommandSpec* find_spec_by_code(int32_t code) {
  for (const CommandSpec& s : kSpecs) {
    if (s.code == code) {
      return &s;
    }
  }
  return nullptr;
}

int32_t error_code(Command command, Failure failure) {
  const CommandSpec* spec = find_spec(command);
  return error_code(spec != nullptr ? spec->family : Family::kNone, failure);
}

}  // namespace pgm::management
