#include "pgm/daemon/commands/handlers.h"

#include <set>

#include <gtest/gtest.h>

#include "pgm/management/registry.h"

namespace pgm::daemon {
namespace {

TEST(HandlerTableTest, EveryRegisteredCommandHasItsOwnHandler) {
  std::set<Handler> seen;
  for (const management::CommandSpec& s : management::command_specs()) {
    Handler h = find_handler(s.command);
    ASSERT_NE(h, nullptr) << s.name;
    EXPECT_TRUE(seen.insert(h).second) << s.name << " shares another command's handler";
  }
  EXPECT_EQ(find_handler(management::Command::kAddUser), nullptr);
}

TEST(HandlerTableTest, InlineConfigurationCommandsNeedTheMainLoop) {
  DaemonContext ctx;
  nlohmann::json request = nlohmann::json::object();
  CommandResult r = commands::conf_reload(Call{ctx, request, nullptr});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("main process"), std::string::npos);
  CommandResult shut = commands::shutdown(Call{ctx, request, nullptr});
  EXPECT_TRUE(shut.ok);
  EXPECT_EQ(shut.after, AfterReply::kShutdown);
}

}  // namespace
}  // namespace pgm::daemon
