#include "pgm/daemon/commands/handlers.h"

namespace pgm::daemon {

namespace {

struct HandlerRow {
  management::Command command;
  Handler handler;
};

#define PGM_HANDLER_ROW(id, code, name, verb, placement, family, layout, handler, ...) \
  HandlerRow{management::Command::id, &commands::handler},
constexpr HandlerRow kHandlers[] = {PGM_COMMANDS(PGM_HANDLER_ROW)};
#undef PGM_HANDLER_ROW

}  // namespace

Handler find_handler(management::Command command) {
  for (const HandlerRow& row : kHandlers) {
    if (row.command == command) {
      return row.handler;
    }
  }
  return nullptr;
}

}  // namespace pgm::daemon
