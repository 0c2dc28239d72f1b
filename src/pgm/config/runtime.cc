// conf get / conf set / reload classification over an immutable Config.
#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "pgm/config/config.h"
#include "pgm/config/keys_internal.h"

namespace pgm::config {

namespace {

// A parsed key reference: "key", "pgmoneta.key", "server.<name>.key" or "<name>.key".
struct KeyRef {
  bool server = false;
  std::string name;  // server name when `server`
  std::string key;
};

KeyRef parse_key_ref(std::string_view text) {
  const size_t dot = text.rfind('.');
  if (dot == std::string_view::npos) {
    return KeyRef{false, "", std::string(text)};
  }
  std::string_view prefix = text.substr(0, dot);
  std::string key(text.substr(dot + 1));
  if (prefix == "pgmoneta") {
    return KeyRef{false, "", key};
  }
  // "server.<name>.key"; a bare "server.key" means a server named "server".
  constexpr std::string_view kServerPrefix = "server.";
  if (prefix.substr(0, kServerPrefix.size()) == kServerPrefix) {
    prefix.remove_prefix(kServerPrefix.size());
  }
  return KeyRef{true, std::string(prefix), key};
}

tl::unexpected<Error> not_found(std::string message) {
  return make_error(ErrorCode::kNotFound, std::move(message));
}

std::string qualified(const Config& c, int server, const std::string& key) {
  if (server < 0) {
    return key;
  }
  return fmt::format("server.{}.{}", c.servers[static_cast<size_t>(server)].name, key);
}

}  // namespace

Result<std::string> get_value(const Config& config, std::string_view key) {
  const KeyRef ref = parse_key_ref(key);
  const KeyDef* def = find_key(ref.key);
  if (ref.server) {
    const ServerConfig* server = find_server(config, ref.name);
    if (server == nullptr) {
      return not_found(fmt::format("unknown server \"{}\" in key \"{}\"", ref.name, key));
    }
    if (def == nullptr || def->get_server == nullptr) {
      return not_found(fmt::format("unknown configuration key \"{}\"", key));
    }
    return def->get_server(*server);
  }
  if (def == nullptr || def->get_main == nullptr) {
    return not_found(fmt::format("unknown configuration key \"{}\"", key));
  }
  return def->get_main(config);
}

namespace {

// The one table of secret keys.
constexpr std::array<std::string_view, 2> kSecretKeys = {"s3_secret_access_key",
                                                         "azure_shared_key"};

// A value as it may be shown: a set secret becomes kRedacted.
std::string shown(std::string_view key, std::string value) {
  return !value.empty() && is_secret_key(key) ? std::string(kRedacted) : value;
}

}  // namespace

bool is_secret_key(std::string_view key) {
  const KeyRef ref = parse_key_ref(key);
  return std::find(kSecretKeys.begin(), kSecretKeys.end(), ref.key) != kSecretKeys.end();
}

nlohmann::json to_json(const Config& config) {
  nlohmann::json out = nlohmann::json::object();
  for (const KeyDef& def : all_keys()) {
    if (def.get_main != nullptr) {
      out[std::string(def.name)] = shown(def.name, def.get_main(config));
    }
  }
  out["main_configuration_path"] = config.origin.file;
  nlohmann::json servers = nlohmann::json::object();
  for (const ServerConfig& s : config.servers) {
    nlohmann::json one = nlohmann::json::object();
    for (const KeyDef& def : all_keys()) {
      if (def.get_server != nullptr) {
        one[std::string(def.name)] = shown(def.name, def.get_server(s));
      }
    }
    servers[s.name] = std::move(one);
  }
  out["server"] = std::move(servers);
  return out;
}

nlohmann::json to_json(const Config& config, const ConfigPaths& paths) {
  nlohmann::json out = to_json(config);
  out["main_configuration_path"] = paths.main;
  out["users_configuration_path"] = paths.users;
  out["admin_configuration_path"] = paths.admins;
  return out;
}

tl::expected<SetResult, SetError> set_value(const Config& config, std::string_view key,
                                            std::string_view value, const EnvLookup& env) {
  using Kind = SetError::Kind;
  auto fail = [](Kind kind, ErrorCode code, std::string message) {
    return tl::unexpected<SetError>(SetError{kind, Error(code, std::move(message))});
  };
  const KeyRef ref = parse_key_ref(key);
  const KeyDef* def = find_key(ref.key);
  auto next = std::make_shared<Config>(config);
  ServerConfig* server = nullptr;
  if (ref.server) {
    for (ServerConfig& s : next->servers) {
      if (s.name == ref.name) {
        server = &s;
      }
    }
    if (server == nullptr) {
      return fail(Kind::kUnknownServer, ErrorCode::kNotFound,
                  fmt::format("unknown server \"{}\" in key \"{}\"", ref.name, key));
    }
  }
  if (def == nullptr ||
      (server != nullptr ? def->set_server == nullptr : def->set_main == nullptr)) {
    return fail(Kind::kUnknownKey, ErrorCode::kNotFound,
                fmt::format("unknown configuration key \"{}\"", key));
  }
  std::string text(value);
  if (def->path) {
    auto interpolated = interpolate_env(text, env);
    if (!interpolated) {
      return fail(Kind::kInvalidValue, ErrorCode::kConfig,
                  fmt::format("{}: {}", key, interpolated.error().message()));
    }
    text = std::move(*interpolated);
  }
  const bool default_pid = config.pidfile == default_pidfile(config);
  std::string note;  // a clamp notice; the new value shows it
  auto applied =
      server != nullptr ? def->set_server(*server, text, note) : def->set_main(*next, text, note);
  if (!applied) {
    return fail(Kind::kInvalidValue, ErrorCode::kConfig,
                fmt::format("{}: {}", key, applied.error().message()));
  }
  if (server == nullptr && default_pid && (def->name == "host" || def->name == "unix_socket_dir")) {
    next->pidfile = default_pidfile(*next);
  }
  for (const Problem& p : validate(*next)) {
    if (p.error) {
      return fail(Kind::kInvalidValue, ErrorCode::kConfig,
                  fmt::format("{}: {}", qualified(*next, p.server, p.key), p.message));
    }
  }
  SetResult result;
  result.key = std::string(key);
  if (server != nullptr) {
    result.old_value = shown(def->name, def->get_server(*find_server(config, ref.name)));
    result.new_value = shown(def->name, def->get_server(*server));
    result.restart_required = def->server_apply == Apply::kRestart;
  } else {
    result.old_value = shown(def->name, def->get_main(config));
    result.new_value = shown(def->name, def->get_main(*next));
    result.restart_required = def->main_apply == Apply::kRestart;
  }
  result.config = std::move(next);
  return result;
}

Result<bool> check_value(bool server_section, std::string_view key, std::string_view value) {
  const KeyDef* def = find_key(key);
  if (def == nullptr || (server_section ? def->set_server == nullptr : def->set_main == nullptr)) {
    return false;
  }
  std::string note;  // a clamp notice: the value is still accepted
  Config main;
  ServerConfig server;
  auto applied =
      server_section ? def->set_server(server, value, note) : def->set_main(main, value, note);
  if (!applied) {
    return make_error(ErrorCode::kConfig, fmt::format("{}: {}", key, applied.error().message()));
  }
  return true;
}

bool is_restart_only_key(std::string_view key) {
  const KeyRef ref = parse_key_ref(key);
  const KeyDef* def = find_key(ref.key);
  if (def == nullptr) {
    return false;
  }
  if (ref.server) {
    return def->set_server != nullptr && def->server_apply == Apply::kRestart;
  }
  return def->set_main != nullptr && def->main_apply == Apply::kRestart;
}

std::vector<std::string> restart_required_changes(const Config& running, const Config& reloaded) {
  std::vector<std::string> changes;
  for (const KeyDef& def : all_keys()) {
    if (def.get_main != nullptr && def.main_apply == Apply::kRestart &&
        def.get_main(running) != def.get_main(reloaded)) {
      changes.emplace_back(def.name);
    }
  }
  std::vector<std::string> common_running;
  for (const ServerConfig& s : running.servers) {
    const ServerConfig* other = find_server(reloaded, s.name);
    if (other == nullptr) {
      changes.push_back(fmt::format("server.{} (removed)", s.name));
      continue;
    }
    common_running.push_back(s.name);
    for (const KeyDef& def : all_keys()) {
      if (def.get_server != nullptr && def.server_apply == Apply::kRestart &&
          def.get_server(s) != def.get_server(*other)) {
        changes.push_back(fmt::format("server.{}.{}", s.name, def.name));
      }
    }
  }
  std::vector<std::string> common_reloaded;
  for (const ServerConfig& s : reloaded.servers) {
    if (find_server(running, s.name) == nullptr) {
      changes.push_back(fmt::format("server.{} (added)", s.name));
    } else {
      common_reloaded.push_back(s.name);
    }
  }
  // Per-server shared state is indexed by position, so a reorder needs a restart too.
  if (common_running != common_reloaded) {
    changes.emplace_back("servers (order changed)");
  }
  return changes;
}

bool listeners_changed(const Config& running, const Config& reloaded) {
  for (const KeyDef& def : all_keys()) {
    if (def.get_main != nullptr && def.main_apply == Apply::kListener &&
        def.get_main(running) != def.get_main(reloaded)) {
      return true;
    }
  }
  return false;
}

}  // namespace pgm::config
