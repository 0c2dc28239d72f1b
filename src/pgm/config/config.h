// Loading pgmoneta.conf into an immutable Config, and the runtime operations on it:
// conf get (get_value, to_json), conf set (set_value) and reload classification.
// All functions are pure apart from load_config (reads one file); thread-safe.
//
// Errors are kConfig "<file>:<line>: <key>: <what is wrong>"; a missing required key names
// its section ("<file>:<section line>: host: required key missing in [primary]"). Unknown
// keys are not errors: they come back as warnings in the same form. Invalid values are
// always errors, never a silent fallback.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "pgm/config/model.h"
#include "pgm/config/values.h"
#include "pgm/core/result.h"

namespace pgm::config {

struct Warning {
  std::string file;
  int line = 0;
  std::string key;
  std::string message;
  std::string to_string() const;  // "<file>:<line>: <key>: <message>"
};

struct Loaded {
  std::shared_ptr<const Config> config;
  std::vector<Warning> warnings;
};

// Reads, parses and validates a pgmoneta.conf. Path keys get $VAR interpolation through
// `env`. Does not touch the paths it names (the daemon checks unix_socket_dir exists and
// creates base_dir). A missing file is kNotFound.
Result<Loaded> load_config(const std::string& path, const EnvLookup& env = process_env());
// The same from memory; `file_name` is used in messages and as origin.file.
Result<Loaded> parse_config(std::string_view text, const std::string& file_name,
                            const EnvLookup& env);

// Paths of the daemon's configuration files (-c, -u, -A, -D and $PGMONETA_CONFIG_DIR).
struct ConfigPaths {
  std::string main;
  std::string users;   // optional file: the caller tolerates its absence
  std::string admins;  // optional file: the caller tolerates its absence
};

inline constexpr std::string_view kDefaultConfigDir = "/etc/pgmoneta";

// A per-file flag wins over -D, -D over $PGMONETA_CONFIG_DIR, that over /etc/pgmoneta;
// file names pgmoneta.conf, pgmoneta_users.conf, pgmoneta_admins.conf.
ConfigPaths resolve_paths(std::optional<std::string> c, std::optional<std::string> u,
                          std::optional<std::string> a, std::optional<std::string> d,
                          const EnvLookup& env);

const ServerConfig* find_server(const Config& config, std::string_view name);

// conf get of one key, as the string a user would write in the file. Key forms: "key",
// "pgmoneta.key", "server.<name>.key", "<name>.key". Unknown key or server: kNotFound.
Result<std::string> get_value(const Config& config, std::string_view key);

// conf get of everything, in pgmoneta's layout: every [pgmoneta] key at the top level, then
// "server": {"<name>": {key: value...}}, plus "main_configuration_path". Values are strings
// as get_value gives them.
nlohmann::json to_json(const Config& config);
// Adds "users_configuration_path" and "admin_configuration_path" as pgmoneta does.
nlohmann::json to_json(const Config& config, const ConfigPaths& paths);

// conf set: validates and applies one key to a copy; never mutates `config`.
struct SetResult {
  std::shared_ptr<const Config> config;  // the copy with the value applied
  std::string key;                       // as requested
  std::string old_value;
  std::string new_value;
  // The key needs a restart: pgmoneta keeps the running value ("success_restart_required");
  // `config` still shows what the next start will use.
  bool restart_required = false;
};

struct SetError {
  enum class Kind { kUnknownKey, kUnknownServer, kInvalidValue };
  Kind kind;
  Error error;  // kNotFound for unknown key/server, kConfig for an invalid value
};

// Path values get $VAR interpolation through `env`. Changing host or unix_socket_dir moves a
// default-derived pidfile along.
tl::expected<SetResult, SetError> set_value(const Config& config, std::string_view key,
                                            std::string_view value,
                                            const EnvLookup& env = process_env());

// Checks one value as it would be written in a file: in [pgmoneta] (`server_section` false)
// or in a server section. Path keys are checked as written, without $VAR interpolation (the
// daemon's environment may differ). Returns false for a key the table does not know in that
// section (pgmoneta ignores those), true for a valid value, kConfig "<key>: <why>" otherwise.
// Cross-key rules (validate) are not applied.
Result<bool> check_value(bool server_section, std::string_view key, std::string_view value);

// Keys whose change needs a full restart: hugepage, direct_io, libev, log_path, log_type,
// unix_socket_dir, pidfile, host, base_dir, metrics_cache_max_size, and a server's host,
// port, user, wal_slot. Accepts the key forms of get_value; false for unknown keys.
bool is_restart_only_key(std::string_view key);

// Keys whose values are secrets (s3_secret_access_key, azure_shared_key; `[server]` or
// `server.key` forms too): conf get, conf set's answer and the log show kRedacted instead.
bool is_secret_key(std::string_view key);
inline constexpr const char* kRedacted = "********";

// The names of the configuration keys in the key table's order: those valid in [pgmoneta] and
// those valid in a server section (many keys are both). For shell completion and the docs'
// drift checks; aliases are not listed.
struct KeyNames {
  std::vector<std::string_view> main;
  std::vector<std::string_view> server;
};
KeyNames key_names();

// What a reload cannot apply: changed restart-only keys ("hugepage",
// "server.primary.port"), "server.<name> (added)", "server.<name> (removed)" and
// "servers (order changed)". Empty when the reloaded config may be swapped in.
std::vector<std::string> restart_required_changes(const Config& running, const Config& reloaded);

// True when metrics, management, console, nagios, backlog, tls, tls_*_file or metrics_*_file
// changed: the listeners must be re-bound (SIGUSR1), no restart needed.
bool listeners_changed(const Config& running, const Config& reloaded);

}  // namespace pgm::config
