// The key table: every key of pgmoneta.conf with its section, type, default, reload class,
// parser and formatter. Module-private; immutable, thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "pgm/config/model.h"

namespace pgm::config {

// How a changed value takes effect on a running daemon.
enum class Apply {
  kLive,      // reload / conf set applies it at once
  kListener,  // live, but the metrics/management/console listeners must be re-bound (SIGUSR1)
  kRestart,   // needs a full restart
};

// Setters receive the value after $VAR interpolation (for path keys). They may clamp a value
// and explain it in `warning` (pgmoneta clamps these silently; we say so).
using MainSetter = Result<void> (*)(Config&, std::string_view value, std::string& warning);
using MainGetter = std::string (*)(const Config&);
using ServerSetter = Result<void> (*)(ServerConfig&, std::string_view value, std::string& warning);
using ServerGetter = std::string (*)(const ServerConfig&);

struct KeyDef {
  std::string_view name;
  std::string_view type;            // for documentation
  std::string_view main_default;    // as written in the file; "" = empty or computed
  std::string_view server_default;  // likewise for a server section
  bool path;                        // $VAR interpolation applies
  Apply main_apply;
  Apply server_apply;
  MainSetter set_main;  // nullptr: not valid in [pgmoneta]
  MainGetter get_main;
  ServerSetter set_server;  // nullptr: not valid in a server section
  ServerGetter get_server;
};

std::span<const KeyDef> all_keys();

// Looks a key up by name; also resolves the aliases s3_aws_region (-> s3_region) and
// backup_max_rate (-> max_rate) used by newer pgmoneta versions. nullptr when unknown.
const KeyDef* find_key(std::string_view name);

// The derived defaults: "<unix_socket_dir>/pgmoneta.<host or all>.pid".
std::string default_pidfile(const Config& config);

// A problem found by validate(); `server` is an index into Config::servers or -1 for main.
struct Problem {
  bool error = true;  // false: a warning
  int server = -1;
  std::string key;
  std::string message;
};

// Cross-key rules of reference §5.2/§5.3 (retention ranges, follow, reserved names,
// server count, required keys, port clashes, engine prerequisites...).
std::vector<Problem> validate(const Config& config);

}  // namespace pgm::config
