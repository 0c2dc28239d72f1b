#include <algorithm>
#include <array>
#include <climits>
#include <optional>

#include <fmt/format.h>

#include "pgm/config/config.h"
#include "pgm/config/keys_internal.h"
#include "pgm/config/spellings.h"
#include "pgm/config/values.h"

namespace pgm::config {

namespace {

// ---- parsers returning exactly the field's type ----

Result<std::string> p_string(std::string_view v) { return std::string(v); }
Result<bool> p_bool(std::string_view v) { return parse_bool(v); }
Result<seconds> p_duration(std::string_view v) { return parse_duration(v); }
Result<uint64_t> p_size(std::string_view v) { return parse_size(v); }

Result<int> p_int_range(std::string_view v, int64_t min, int64_t max) {
  PGM_ASSIGN_OR_RETURN(int64_t n, parse_int(v, min, max));
  return static_cast<int>(n);
}
Result<int> p_port(std::string_view v) { return p_int_range(v, 0, 65535); }
Result<int> p_server_port(std::string_view v) { return p_int_range(v, 1, 65535); }
Result<int> p_count(std::string_view v) { return p_int_range(v, 0, INT_MAX); }
Result<int> p_int(std::string_view v) { return p_int_range(v, INT_MIN, INT_MAX); }
Result<log::Level> p_level(std::string_view v) { return parse_log_level(v); }

Result<std::optional<std::string>> p_opt_string(std::string_view v) {
  return std::optional<std::string>(std::string(v));
}
Result<std::optional<bool>> p_opt_bool(std::string_view v) {
  PGM_ASSIGN_OR_RETURN(bool b, parse_bool(v));
  return std::optional<bool>(b);
}
Result<std::optional<int>> p_opt_port(std::string_view v) {
  PGM_ASSIGN_OR_RETURN(int p, p_port(v));
  return std::optional<int>(p);
}
// Per-server progress: -1 = the global value.
Result<std::optional<bool>> p_progress(std::string_view v) {
  if (trim(v) == "-1") {
    return std::optional<bool>();
  }
  return p_opt_bool(v);
}
Result<std::vector<std::string>> p_comma_list(std::string_view v) { return split_list(v, ','); }
Result<std::vector<std::string>> p_bar_list(std::string_view v) { return split_list(v, '|'); }
Result<std::vector<std::string>> p_hot_standby(std::string_view v) {
  std::vector<std::string> dirs = split_list(v, ',');
  if (dirs.size() > kMaxHotStandbys) {
    return make_error(ErrorCode::kConfig, fmt::format("{} directories given, at most {} allowed",
                                                      dirs.size(), kMaxHotStandbys));
  }
  return dirs;
}

// ---- formatters taking the field's type ----

std::string f_string(const std::string& s) { return s; }
std::string f_int(int n) { return std::to_string(n); }
std::string f_level(log::Level l) { return std::string(log::level_config_name(l)); }
std::string f_opt_string(const std::optional<std::string>& s) { return s.value_or(""); }
std::string f_opt_bool(const std::optional<bool>& b) { return b ? format_bool(*b) : ""; }
std::string f_opt_int(const std::optional<int>& n) { return n ? std::to_string(*n) : ""; }
std::string f_progress(const std::optional<bool>& b) { return b ? format_bool(*b) : "-1"; }
std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    out += i == 0 ? "" : std::string(sep);
    out += items[i];
  }
  return out;
}
std::string f_comma_list(const std::vector<std::string>& v) { return join(v, ","); }
std::string f_bar_list(const std::vector<std::string>& v) { return join(v, "|"); }

// ---- generic field accessors ----

template <auto Member, auto Parse>
Result<void> set_main_field(Config& c, std::string_view v, std::string& /*warning*/) {
  auto parsed = Parse(v);
  if (!parsed) {
    return tl::unexpected(parsed.error());
  }
  c.*Member = std::move(*parsed);
  return {};
}
template <auto Member, auto Format>
std::string get_main_field(const Config& c) {
  return Format(c.*Member);
}
template <auto Member, auto Parse>
Result<void> set_server_field(ServerConfig& s, std::string_view v, std::string& /*warning*/) {
  auto parsed = Parse(v);
  if (!parsed) {
    return tl::unexpected(parsed.error());
  }
  s.*Member = std::move(*parsed);
  return {};
}
template <auto Member, auto Format>
std::string get_server_field(const ServerConfig& s) {
  return Format(s.*Member);
}

// ---- keys with clamping (pgmoneta clamps silently; we warn) ----

Result<void> set_backlog(Config& c, std::string_view v, std::string& warning) {
  PGM_ASSIGN_OR_RETURN(int n, p_count(v));
  if (n < 16) {
    warning = fmt::format("{} is below the minimum; using 16", n);
    n = 16;
  }
  c.backlog = n;
  return {};
}
Result<void> set_server_workers(ServerConfig& s, std::string_view v, std::string& warning) {
  PGM_ASSIGN_OR_RETURN(int n, p_int(v));
  if (n < -1) {
    warning = fmt::format("{} is below -1; using -1 (the global workers)", n);
    n = -1;
  }
  s.workers = n;
  return {};
}
Result<void> set_server_max_rate(ServerConfig& s, std::string_view v, std::string& warning) {
  std::string_view t = trim(v);
  if (!t.empty() && t.front() == '-') {
    PGM_ASSIGN_OR_RETURN(int64_t n, parse_int(t, INT64_MIN, -1));
    if (n < -1) {
      warning = fmt::format("{} is below -1; using -1 (the global max_rate)", n);
    }
    s.max_rate = -1;
    return {};
  }
  PGM_ASSIGN_OR_RETURN(uint64_t bytes, parse_size(t));
  if (bytes > static_cast<uint64_t>(INT64_MAX)) {
    return make_error(ErrorCode::kConfig, "max_rate too large");
  }
  s.max_rate = static_cast<int64_t>(bytes);
  return {};
}
std::string get_server_max_rate(const ServerConfig& s) {
  return s.max_rate < 0 ? "-1" : format_size(static_cast<uint64_t>(s.max_rate));
}
std::string get_backlog(const Config& c) { return std::to_string(c.backlog); }
std::string get_server_workers(const ServerConfig& s) { return std::to_string(s.workers); }

#define PGM_MAIN(field, parse, format) \
  &set_main_field<&Config::field, parse>, &get_main_field<&Config::field, format>
#define PGM_SERVER(field, parse, format) \
  &set_server_field<&ServerConfig::field, parse>, &get_server_field<&ServerConfig::field, format>
#define PGM_NONE nullptr, nullptr

using enum Apply;

// The full key table (documentation source). Columns: key, type, [pgmoneta] default,
// server default, path ($VAR), main apply, server apply, main accessors, server accessors.
// A key with PGM_NONE in a column is not valid in that section (it warns as unknown).
constexpr KeyDef kKeyTable[] = {
    // Core
    {"host", "string, required", "", "", false, kRestart, kRestart,
     PGM_MAIN(host, p_string, f_string), PGM_SERVER(host, p_string, f_string)},
    {"port", "port 1-65535, required", "", "", false, kLive, kRestart, PGM_NONE,
     PGM_SERVER(port, p_server_port, f_int)},
    {"user", "string, required", "", "", false, kLive, kRestart, PGM_NONE,
     PGM_SERVER(user, p_string, f_string)},
    {"wal_slot", "string, required", "", "", false, kLive, kRestart, PGM_NONE,
     PGM_SERVER(wal_slot, p_string, f_string)},
    {"unix_socket_dir", "path, required", "", "", true, kRestart, kLive,
     PGM_MAIN(unix_socket_dir, p_string, f_string), PGM_NONE},
    {"base_dir", "path, required", "", "", true, kRestart, kLive,
     PGM_MAIN(base_dir, p_string, f_string), PGM_NONE},
    {"pidfile", "path", "<unix_socket_dir>/pgmoneta.<host|all>.pid", "", true, kRestart, kLive,
     PGM_MAIN(pidfile, p_string, f_string), PGM_NONE},
    // Ports (0 = off)
    {"metrics", "port", "0", "", false, kListener, kLive, PGM_MAIN(metrics, p_port, f_int),
     PGM_NONE},
    {"management", "port", "0", "", false, kListener, kLive, PGM_MAIN(management, p_port, f_int),
     PGM_NONE},
    {"console", "port", "0", "", false, kListener, kLive, PGM_MAIN(console, p_port, f_int),
     PGM_NONE},
    {"nagios", "port", "0", "", false, kListener, kLive, PGM_MAIN(nagios, p_port, f_int), PGM_NONE},
    // Metrics cache and TLS
    {"metrics_cache_max_age", "duration", "0", "", false, kLive, kLive,
     PGM_MAIN(metrics_cache_max_age, p_duration, format_duration), PGM_NONE},
    {"metrics_cache_max_size", "size", "256K", "", false, kRestart, kLive,
     PGM_MAIN(metrics_cache_max_size, p_size, format_size), PGM_NONE},
    {"metrics_cert_file", "path", "", "", true, kListener, kLive,
     PGM_MAIN(metrics_cert_file, p_string, f_string), PGM_NONE},
    {"metrics_key_file", "path", "", "", true, kListener, kLive,
     PGM_MAIN(metrics_key_file, p_string, f_string), PGM_NONE},
    {"metrics_ca_file", "path", "", "", true, kListener, kLive,
     PGM_MAIN(metrics_ca_file, p_string, f_string), PGM_NONE},
    // Backup data
    {"compression", "enum", "zstd", "", false, kLive, kLive,
     PGM_MAIN(compression, parse_compression, format_compression), PGM_NONE},
    {"compression_level", "integer", "3", "", false, kLive, kLive,
     PGM_MAIN(compression_level, p_int, f_int), PGM_NONE},
    {"encryption", "enum", "none", "", false, kLive, kLive,
     PGM_MAIN(encryption, parse_encryption, format_encryption), PGM_NONE},
    {"storage_engine", "list of local,ssh,s3,azure", "local", "", false, kLive, kLive,
     PGM_MAIN(storage_engine, parse_storage_engine, format_storage_engine), PGM_NONE},
    {"workers", "integer (server: -1 = global)", "0", "-1", false, kLive, kLive,
     PGM_MAIN(workers, p_count, f_int), &set_server_workers, &get_server_workers},
    {"workspace", "path", "<$TMPDIR or /tmp>/pgmoneta-workspace-<uid>/", "", true, kLive, kLive,
     PGM_MAIN(workspace, p_string, f_string), PGM_SERVER(workspace, p_string, f_string)},
    {"max_rate", "size per second (server: -1 = global)", "0", "-1", false, kLive, kLive,
     PGM_MAIN(max_rate, p_size, format_size), &set_server_max_rate, &get_server_max_rate},
    {"progress", "bool (server: -1 = global)", "off", "-1", false, kLive, kLive,
     PGM_MAIN(progress, p_bool, format_bool), PGM_SERVER(progress, p_progress, f_progress)},
    {"verification", "duration, 0 = off", "0", "", false, kLive, kLive,
     PGM_MAIN(verification, p_duration, format_duration), PGM_NONE},
    {"verification_start", "bool (ours; server: unset = global)", "off", "", false, kLive, kLive,
     PGM_MAIN(verification_start, p_bool, format_bool),
     PGM_SERVER(verification_start, p_opt_bool, f_opt_bool)},
    {"create_slot", "bool (server: unset = global)", "off", "", false, kLive, kLive,
     PGM_MAIN(create_slot, p_bool, format_bool), PGM_SERVER(create_slot, p_opt_bool, f_opt_bool)},
    {"direct_io", "off|auto|on", "off", "", false, kRestart, kLive,
     PGM_MAIN(direct_io, parse_direct_io, format_direct_io), PGM_NONE},
    {"manifest_checksums", "sha512|crc32c (ours)", "sha512", "", false, kLive, kLive,
     PGM_MAIN(manifest_checksums, parse_manifest_checksums, format_manifest_checksums), PGM_NONE},
    {"hugepage", "off|try|on", "try", "", false, kRestart, kLive,
     PGM_MAIN(hugepage, parse_hugepage, format_hugepage), PGM_NONE},
    // Retention
    {"retention", "D,W,M,Y ('-' = unset; server: unset = global)", "7,-,-,-", "-,-,-,-", false,
     kLive, kLive, PGM_MAIN(retention, parse_retention, format_retention),
     PGM_SERVER(retention, parse_retention, format_retention)},
    {"retention_interval", "duration", "5m", "", false, kLive, kLive,
     PGM_MAIN(retention_interval, p_duration, format_duration), PGM_NONE},
    {"probe_interval", "duration (ours)", "1m", "", false, kLive, kLive,
     PGM_MAIN(probe_interval, p_duration, format_duration), PGM_NONE},
    // Logging
    {"log_type", "console|file|syslog", "console", "", false, kRestart, kLive,
     PGM_MAIN(log_type, parse_log_type, format_log_type), PGM_NONE},
    {"log_level", "fatal|error|warn|info|debug1-5", "info", "", false, kLive, kLive,
     PGM_MAIN(log_level, p_level, f_level), PGM_NONE},
    {"log_path", "path (strftime allowed)", "pgmoneta.log", "", true, kRestart, kLive,
     PGM_MAIN(log_path, p_string, f_string), PGM_NONE},
    {"log_mode", "append|create", "append", "", false, kLive, kLive,
     PGM_MAIN(log_mode, parse_log_mode, format_log_mode), PGM_NONE},
    {"log_rotation_age", "duration, 0 = off", "0", "", false, kLive, kLive,
     PGM_MAIN(log_rotation_age, p_duration, format_duration), PGM_NONE},
    {"log_rotation_size", "size, 0 = off", "0", "", false, kLive, kLive,
     PGM_MAIN(log_rotation_size, p_size, format_size), PGM_NONE},
    {"log_line_prefix", "strftime format", "%Y-%m-%d %H:%M:%S", "", false, kLive, kLive,
     PGM_MAIN(log_line_prefix, p_string, f_string), PGM_NONE},
    // TLS (main: management and PostgreSQL; server: client certificate for PostgreSQL)
    {"tls", "bool", "off", "", false, kListener, kLive, PGM_MAIN(tls, p_bool, format_bool),
     PGM_NONE},
    {"tls_cert_file", "path", "", "", true, kListener, kLive,
     PGM_MAIN(tls_cert_file, p_string, f_string), PGM_SERVER(tls_cert_file, p_string, f_string)},
    {"tls_key_file", "path", "", "", true, kListener, kLive,
     PGM_MAIN(tls_key_file, p_string, f_string), PGM_SERVER(tls_key_file, p_string, f_string)},
    {"tls_ca_file", "path", "", "", true, kListener, kLive,
     PGM_MAIN(tls_ca_file, p_string, f_string), PGM_SERVER(tls_ca_file, p_string, f_string)},
    // Sockets
    {"blocking_timeout", "duration", "30s", "", false, kLive, kLive,
     PGM_MAIN(blocking_timeout, p_duration, format_duration), PGM_NONE},
    {"authentication_timeout", "duration", "5s", "", false, kLive, kLive,
     PGM_MAIN(authentication_timeout, p_duration, format_duration), PGM_NONE},
    {"keep_alive", "bool", "on", "", false, kLive, kLive, PGM_MAIN(keep_alive, p_bool, format_bool),
     PGM_NONE},
    {"nodelay", "bool", "on", "", false, kLive, kLive, PGM_MAIN(nodelay, p_bool, format_bool),
     PGM_NONE},
    {"non_blocking", "bool", "on", "", false, kLive, kLive,
     PGM_MAIN(non_blocking, p_bool, format_bool), PGM_NONE},
    {"backlog", "integer >= 16", "16", "", false, kListener, kLive, &set_backlog, &get_backlog,
     PGM_NONE},
    // Process
    {"libev", "auto|select|poll|epoll|iouring|devpoll|port", "auto", "", false, kRestart, kLive,
     PGM_MAIN(libev, parse_libev, format_libev), PGM_NONE},
    {"update_process_title", "never|off|strict|minimal|verbose|full", "verbose", "", false, kLive,
     kLive, PGM_MAIN(update_process_title, parse_update_process_title, format_update_process_title),
     PGM_NONE},
    // SSH
    {"ssh_hostname", "string", "", "", false, kLive, kLive,
     PGM_MAIN(ssh_hostname, p_string, f_string), PGM_NONE},
    {"ssh_username", "string", "", "", false, kLive, kLive,
     PGM_MAIN(ssh_username, p_string, f_string), PGM_NONE},
    {"ssh_base_dir", "path", "", "", true, kLive, kLive, PGM_MAIN(ssh_base_dir, p_string, f_string),
     PGM_NONE},
    {"ssh_port", "port", "22", "", false, kLive, kLive, PGM_MAIN(ssh_port, p_port, f_int),
     PGM_NONE},
    {"ssh_public_key_file", "path", "$HOME/.ssh/id_rsa.pub", "", true, kLive, kLive,
     PGM_MAIN(ssh_public_key_file, p_string, f_string), PGM_NONE},
    {"ssh_private_key_file", "path", "$HOME/.ssh/id_rsa", "", true, kLive, kLive,
     PGM_MAIN(ssh_private_key_file, p_string, f_string), PGM_NONE},
    {"ssh_ciphers", "list of aes-{256,192,128}-{ctr,cbc}", "aes-256-ctr,aes-192-ctr,aes-128-ctr",
     "", false, kLive, kLive, PGM_MAIN(ssh_ciphers, parse_ssh_ciphers, f_comma_list), PGM_NONE},
    {"ssh_known_hosts_file", "path (ours)", "$HOME/.ssh/known_hosts", "", true, kLive, kLive,
     PGM_MAIN(ssh_known_hosts_file, p_string, f_string), PGM_NONE},
    // S3 (server sections may override each key)
    {"s3_endpoint", "string", "", "", false, kLive, kLive,
     PGM_MAIN(s3_endpoint, p_string, f_string),
     PGM_SERVER(s3_endpoint, p_opt_string, f_opt_string)},
    {"s3_port", "port", "443", "", false, kLive, kLive, PGM_MAIN(s3_port, p_port, f_int),
     PGM_SERVER(s3_port, p_opt_port, f_opt_int)},
    {"s3_use_tls", "bool", "off", "", false, kLive, kLive,
     PGM_MAIN(s3_use_tls, p_bool, format_bool), PGM_SERVER(s3_use_tls, p_opt_bool, f_opt_bool)},
    {"s3_region", "string", "", "", false, kLive, kLive, PGM_MAIN(s3_region, p_string, f_string),
     PGM_SERVER(s3_region, p_opt_string, f_opt_string)},
    {"s3_access_key_id", "string", "", "", false, kLive, kLive,
     PGM_MAIN(s3_access_key_id, p_string, f_string),
     PGM_SERVER(s3_access_key_id, p_opt_string, f_opt_string)},
    {"s3_secret_access_key", "string", "", "", false, kLive, kLive,
     PGM_MAIN(s3_secret_access_key, p_string, f_string),
     PGM_SERVER(s3_secret_access_key, p_opt_string, f_opt_string)},
    {"s3_bucket", "string", "", "", false, kLive, kLive, PGM_MAIN(s3_bucket, p_string, f_string),
     PGM_SERVER(s3_bucket, p_opt_string, f_opt_string)},
    {"s3_base_dir", "string", "", "", false, kLive, kLive,
     PGM_MAIN(s3_base_dir, p_string, f_string),
     PGM_SERVER(s3_base_dir, p_opt_string, f_opt_string)},
    {"s3_storage_class", "string", "REDUCED_REDUNDANCY", "", false, kLive, kLive,
     PGM_MAIN(s3_storage_class, p_string, f_string),
     PGM_SERVER(s3_storage_class, p_opt_string, f_opt_string)},
    // Azure
    {"azure_storage_account", "string", "", "", false, kLive, kLive,
     PGM_MAIN(azure_storage_account, p_string, f_string), PGM_NONE},
    {"azure_container", "string", "", "", false, kLive, kLive,
     PGM_MAIN(azure_container, p_string, f_string), PGM_NONE},
    {"azure_shared_key", "string", "", "", false, kLive, kLive,
     PGM_MAIN(azure_shared_key, p_string, f_string), PGM_NONE},
    {"azure_base_dir", "string", "", "", false, kLive, kLive,
     PGM_MAIN(azure_base_dir, p_string, f_string), PGM_NONE},
    {"azure_endpoint", "string", "", "", false, kLive, kLive,
     PGM_MAIN(azure_endpoint, p_string, f_string), PGM_NONE},
    {"azure_port", "port", "443", "", false, kLive, kLive, PGM_MAIN(azure_port, p_port, f_int),
     PGM_NONE},
    {"azure_use_tls", "bool", "on", "", false, kLive, kLive,
     PGM_MAIN(azure_use_tls, p_bool, format_bool), PGM_NONE},
    {"link", "bool (pgmoneta debug builds)", "on", "", false, kLive, kLive,
     PGM_MAIN(link, p_bool, format_bool), PGM_NONE},
    // Server-only keys
    {"follow", "server name", "", "", false, kLive, kLive, PGM_NONE,
     PGM_SERVER(follow, p_string, f_string)},
    {"wal_shipping", "path", "", "", true, kLive, kLive, PGM_NONE,
     PGM_SERVER(wal_shipping, p_string, f_string)},
    {"hot_standby", "list of up to 8 paths", "", "", true, kLive, kLive, PGM_NONE,
     PGM_SERVER(hot_standby, p_hot_standby, f_comma_list)},
    {"hot_standby_overrides", "'|' list of directories, one per standby", "", "", false, kLive,
     kLive, PGM_NONE, PGM_SERVER(hot_standby_overrides, p_bar_list, f_bar_list)},
    {"hot_standby_tablespaces", "from->to pairs, ',' within and '|' between standbys", "", "",
     false, kLive, kLive, PGM_NONE,
     PGM_SERVER(hot_standby_tablespaces, parse_tablespaces, format_tablespaces)},
    {"extra", "list of server-side paths", "", "", false, kLive, kLive, PGM_NONE,
     PGM_SERVER(extra, p_comma_list, f_comma_list)},
    {"wal_sync", "bool (ours)", "", "off", false, kLive, kLive, PGM_NONE,
     PGM_SERVER(wal_sync, p_bool, format_bool)},
};

#undef PGM_MAIN
#undef PGM_SERVER
#undef PGM_NONE

}  // namespace

std::span<const KeyDef> all_keys() { return kKeyTable; }

KeyNames key_names() {
  KeyNames names;
  for (const KeyDef& k : kKeyTable) {
    if (k.set_main != nullptr) {
      names.main.push_back(k.name);
    }
    if (k.set_server != nullptr) {
      names.server.push_back(k.name);
    }
  }
  return names;
}

const KeyDef* find_key(std::string_view name) {
  if (name == "s3_aws_region") {
    name = "s3_region";
  } else if (name == "backup_max_rate") {
    name = "max_rate";
  }
  for (const KeyDef& k : kKeyTable) {
    if (k.name == name) {
      return &k;
    }
  }
  return nullptr;
}

std::string default_pidfile(const Config& config) {
  std::string dir = config.unix_socket_dir;
  while (dir.size() > 1 && dir.back() == '/') {
    dir.pop_back();
  }
  return fmt::format("{}/pgmoneta.{}.pid", dir, config.host == "*" ? "all" : config.host);
}

}  // namespace pgm::config
