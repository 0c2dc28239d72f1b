#include "pgm/daemon/reconfigure.h"

#include <unistd.h>

#include <fmt/format.h>

#include "pgm/config/config.h"
#include "pgm/log/log.h"
#include "pgm/management/errors.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
using nlohmann::json;

Result<ReloadPlan> plan_reload(const DaemonContext& ctx) {
  PGM_ASSIGN_OR_RETURN(auto loaded, config::load_config(ctx.paths.main));
  for (const auto& w : loaded.warnings) {
    log::warn("{}", w.to_string());
  }
  ReloadPlan plan;
  plan.restart_keys = config::restart_required_changes(*ctx.config, *loaded.config);
  auto merged = std::make_shared<config::Config>(*loaded.config);
  bool servers_changed = false;
  for (const std::string& key : plan.restart_keys) {
    auto old_value = config::get_value(*ctx.config, key);
    bool kept = false;
    if (old_value) {
      auto set = config::set_value(*merged, key, *old_value);
      if (set) {
        merged = std::make_shared<config::Config>(*set->config);
        kept = true;
      }
    }
    if (!kept) {
      servers_changed = true;
    }
  }
  if (servers_changed) {
    merged->servers = ctx.config->servers;
  }
  plan.config = std::move(merged);
  return plan;
}

json reload_response(const ReloadPlan& plan) {
  json r;
  r["Restart"] = !plan.restart_keys.empty();
  r["RestartKeys"] = plan.restart_keys;
  return r;
}

ConfSetPlan plan_conf_set(const DaemonContext& ctx, const json& request) {
  ConfSetPlan plan;
  std::string key = string_arg(request, "ConfigKey");
  std::string value = string_arg(request, "ConfigValue");
  if (key.empty() || !request.contains("ConfigValue") || !request["ConfigValue"].is_string()) {
    plan.result =
        CommandResult::failure(mgmt::Family::kConfSet, mgmt::Failure::kMissingArgument,
                               "conf set needs ConfigKey and ConfigValue as strings", "conf set");
    return plan;
  }
  auto set = config::set_value(*ctx.config, key, value);
  if (!set) {
    mgmt::Failure failure = mgmt::Failure::kError;
    switch (set.error().kind) {
      case config::SetError::Kind::kUnknownKey:
        failure = mgmt::Failure::kUnknownKey;
        break;
      case config::SetError::Kind::kUnknownServer:
        failure = mgmt::Failure::kUnknownServer;
        break;
      case config::SetError::Kind::kInvalidValue:
        failure = mgmt::Failure::kError;
        break;
    }
    plan.result = CommandResult::failure(mgmt::Family::kConfSet, failure,
                                         set.error().error.message(), "conf set");
    return plan;
  }
  json r;
  r["config_key"] = set->key;
  r["old_value"] = set->old_value;
  r["requested_value"] = set->new_value;
  r["restart_required"] = set->restart_required;
  if (set->restart_required) {
    r["current_value"] = set->old_value;
    r["new_value"] = set->old_value;
    r["status"] = "success_restart_required";
    r["message"] = "Configuration change requires restart. Current values preserved.";
    log::info("conf set {} = {}: takes effect after a restart", set->key, set->new_value);
  } else {
    r["current_value"] = set->new_value;
    r["new_value"] = set->new_value;
    r["status"] = "success";
    r["message"] = "Configuration change applied successfully";
    log::info("conf set {} = {} (was {})", set->key, set->new_value, set->old_value);
    plan.apply = set->config;
  }
  plan.result = CommandResult::success(r);
  return plan;
}

Result<void> load_vaults(DaemonContext& ctx) {
  auto present = [](const std::string& path) {
    return !path.empty() && ::access(path.c_str(), F_OK) == 0;
  };
  bool users = present(ctx.paths.users);
  bool admins = present(ctx.paths.admins);
  if ((users || admins) && !ctx.master_key) {
    PGM_ASSIGN_OR_RETURN(crypto::MasterKey key, crypto::load_master_key());
    ctx.master_key = std::make_shared<const crypto::MasterKey>(std::move(key));
  }
  ctx.users.clear();
  if (users) {
    auto loaded = crypto::load_vault(ctx.paths.users, *ctx.master_key);
    if (!loaded) {
      return tl::unexpected(
          loaded.error().with_context(fmt::format("users file {}", ctx.paths.users)));
    }
    ctx.users = std::move(*loaded);
  }
  ctx.admins.clear();
  if (admins) {
    auto loaded = crypto::load_vault(ctx.paths.admins, *ctx.master_key);
    if (!loaded) {
      return tl::unexpected(
          loaded.error().with_context(fmt::format("admins file {}", ctx.paths.admins)));
    }
    ctx.admins = std::move(*loaded);
  }
  return {};
}

}  // namespace pgm::daemon
